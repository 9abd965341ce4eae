using Qlaud.Catalog;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Routing;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>In-memory, lock-per-key accounting of reservations and spend; the ledger writer persists what is settled.</summary>
/// <remarks>
/// A reservation takes the key's gate, then the account's gate (always in that order), checks both limits and applies
/// both holds before letting go, so concurrent requests on one key or one account can never over-commit. Critical
/// sections are a few comparisons and additions.
/// </remarks>
internal sealed partial class SpendGuard : ISpendGuard
{
    private readonly KeyRegistry _keys;
    private readonly AccountRegistry _accounts;
    private readonly LedgerWriter _ledger;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly decimal _markupPercent;
    private readonly bool _enforceWallet;

    public SpendGuard(KeyRegistry keys, AccountRegistry accounts, LedgerWriter ledger, TimeProvider time, IOptions<QlaudOptions> options, ILogger<SpendGuard> logger)
    {
        _keys = keys;
        _accounts = accounts;
        _ledger = ledger;
        _time = time;
        _logger = logger;
        _markupPercent = options.Value.Pricing.MarkupPercent;
        _enforceWallet = options.Value.Metering.EnforceWallet;
    }

    public SpendEstimate Estimate(RoutePlan plan, long inputTokens, long? maxOutputTokens)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return SpendEstimator.Estimate(plan.Candidates, inputTokens, SpendEstimator.MaxOutputTokens(maxOutputTokens, plan.Model), _markupPercent);
    }

    public SpendEstimate Estimate(IReadOnlyList<CatalogRoute> candidates, ModelCatalog catalog, long inputTokens, long? maxOutputTokens)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(catalog);
        long worst = 0, outputTokens = 0;
        for (int i = 0; i < candidates.Count; i++)
        {
            catalog.TryGetModel(candidates[i].ModelId, out var model);
            long output = SpendEstimator.MaxOutputTokens(maxOutputTokens, model);
            outputTokens = Math.Max(outputTokens, output);
            worst = Math.Max(worst, SpendEstimator.WorstCaseUpstreamMicros(candidates[i].Price, inputTokens, output));
        }

        return new SpendEstimate(inputTokens, outputTokens, MarkupPricing.Charge(worst, _markupPercent));
    }

    public async ValueTask<SpendDecision> ReserveAsync(QlaudCaller caller, SpendEstimate estimate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentOutOfRangeException.ThrowIfNegative(estimate.WorstCaseMicros);
        if (await _ledger.AdmitAsync(estimate.WorstCaseMicros, cancellationToken).ConfigureAwait(false) is { } ledgerError)
        {
            // Nothing may be spent that the ledger cannot record, and no more may wait unwritten than a crash may lose:
            // refused before any upstream call (503) when the ledger cannot take it.
            return SpendDecision.Refuse(ledgerError);
        }

        var account = _accounts.TryGetCached(caller.AccountId) ?? await _accounts.FindAsync(caller.AccountId, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return SpendDecision.Refuse(new QlaudError(QlaudErrorKind.Authentication, $"The account '{caller.AccountId}' does not exist.", "unknown_account"));
        }

        KeyState? key = null;
        if (caller.KeyId is { } keyId && !caller.IsMasterKey())
        {
            key = _keys.TryGetCached(keyId) ?? await _keys.FindByIdAsync(keyId, cancellationToken).ConfigureAwait(false);
            if (key is null)
            {
                return SpendDecision.Refuse(new QlaudError(QlaudErrorKind.Authentication, "Invalid API key.", "invalid_api_key"));
            }
        }

        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (key is not null)
        {
            if (key.Record.UnusableReason(now) is { } unusable)
            {
                return SpendDecision.Refuse(unusable);
            }

            if (key.Limits is { } limits && !limits.TryAcquire(estimate.RateLimitTokens, out var retryAfter, out string? limit))
            {
                return SpendDecision.Refuse(new QlaudError(QlaudErrorKind.RateLimited,
                    $"Rate limit reached for this key ({(limit == "rpm" ? $"{limits.Rpm} requests" : $"{limits.Tpm} tokens")} per minute). Try again in {Math.Ceiling(retryAfter.TotalSeconds)} s.",
                    limit == "rpm" ? "rate_limit_requests" : "rate_limit_tokens") { RetryAfter = retryAfter });
            }
        }

        long amount = estimate.WorstCaseMicros;
        if (key is null)
        {
            lock (account.Gate)
            {
                if (WalletRefusal(account, amount) is { } walletError)
                {
                    return SpendDecision.Refuse(walletError);
                }

                account.ReservedMicros += amount;
            }
        }
        else
        {
            lock (key.Gate)
            {
                key.RollPeriod(now);
                if (key.Record.MaxSpendMicros is { } cap && key.PeriodSpentMicros + key.ReservedMicros + amount > cap)
                {
                    return SpendDecision.Refuse(CapError(key, cap, amount));
                }

                lock (account.Gate)
                {
                    if (WalletRefusal(account, amount) is { } walletError)
                    {
                        return SpendDecision.Refuse(walletError);
                    }

                    account.ReservedMicros += amount;
                }

                key.ReservedMicros += amount;
            }

            key.Touch(now);
        }

        return SpendDecision.Admit(new SpendReservation(caller, estimate, key, account, now));
    }

    public void Settle(SpendReservation reservation, in SettledUsage usage)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        if (!reservation.TryComplete())
        {
            return;
        }

        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long charged = MarkupPricing.Charge(usage.UpstreamCostMicros, _markupPercent);
        long amount = reservation.AmountMicros;
        var key = reservation.Key;
        var account = reservation.Account;
        long billed;
        long periodStart = 0;
        if (key is null)
        {
            lock (account.Gate)
            {
                account.ReservedMicros -= amount;
                billed = Math.Min(charged, WalletHeadroom(account));
                account.BalanceMicros -= billed;
            }
        }
        else
        {
            lock (key.Gate)
            {
                key.RollPeriod(now);
                key.ReservedMicros -= amount;
                long capHeadroom = key.Record.MaxSpendMicros is { } cap ? Math.Max(0, cap - key.PeriodSpentMicros - key.ReservedMicros) : long.MaxValue;
                lock (account.Gate)
                {
                    account.ReservedMicros -= amount;
                    billed = Math.Min(charged, Math.Min(capHeadroom, WalletHeadroom(account)));
                    account.BalanceMicros -= billed;
                }

                key.PeriodSpentMicros += billed;
                key.LifetimeSpentMicros += billed;
                periodStart = key.PeriodStartMs;
            }

            key.Touch(now);
            long extraTokens = usage.Usage.Input + usage.Usage.Output - reservation.Estimate.RateLimitTokens;
            if (extraTokens > 0)
            {
                key.Limits?.ConsumeTokens(extraTokens);
            }
        }

        if (billed < charged)
        {
            Log.WrittenOff(_logger, reservation.Caller.KeyId ?? "(none)", charged, billed, amount);
        }

        if (usage.Estimated)
        {
            Log.UsageEstimated(_logger, usage.Route ?? usage.Model ?? "(unknown)", usage.RequestId ?? "(none)");
        }

        var caller = reservation.Caller;
        _ledger.Enqueue(new LedgerEntryEntity
        {
            AccountId = account.AccountId,
            Kind = usage.Tool is null ? LedgerEntryKind.Usage : LedgerEntryKind.Tool,
            AmountMicros = -billed,
            KeyId = key?.Record.Id ?? caller.KeyId,
            EndUserId = caller.EndUserId ?? usage.EndUserId,
            Model = usage.Model,
            Route = usage.Route,
            InputTokens = usage.Usage.Input,
            OutputTokens = usage.Usage.Output,
            CacheReadTokens = usage.Usage.CacheRead,
            CacheWriteTokens = usage.Usage.CacheWrite,
            ReasoningTokens = usage.Usage.Reasoning,
            UpstreamCostMicros = usage.UpstreamCostMicros,
            CostMicros = billed,
            WrittenOffMicros = charged - billed,
            Estimated = usage.Estimated,
            CreatedAtMs = now,
            RequestId = usage.RequestId,
            BatchId = usage.BatchId,
            Tool = usage.Tool,
        }, key is null ? null : periodStart);
    }

    public void Release(SpendReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        if (!reservation.TryComplete())
        {
            return;
        }

        long amount = reservation.AmountMicros;
        if (reservation.Key is { } key)
        {
            lock (key.Gate)
            {
                key.ReservedMicros -= amount;
            }
        }

        lock (reservation.Account.Gate)
        {
            reservation.Account.ReservedMicros -= amount;
        }
    }

    /// <summary>What the wallet can still cover beyond other requests' holds; unlimited when the wallet is not enforced.</summary>
    private long WalletHeadroom(AccountState account) => _enforceWallet ? Math.Max(0, account.BalanceMicros - account.ReservedMicros) : long.MaxValue;

    private QlaudError? WalletRefusal(AccountState account, long amount)
    {
        if (!_enforceWallet || account.BalanceMicros - account.ReservedMicros >= amount)
        {
            return null;
        }

        long available = Math.Max(0, account.BalanceMicros - account.ReservedMicros);
        return new QlaudError(QlaudErrorKind.PaymentRequired,
            available == 0
                ? "The account's wallet is empty. Add credit to continue."
                : $"The account's wallet balance (${Usd(available)} available) does not cover this request's worst-case cost (${Usd(amount)}). Add credit, or lower max_tokens.",
            "insufficient_balance");
    }

    private static QlaudError CapError(KeyState key, long cap, long amount)
    {
        long remaining = Math.Max(0, cap - key.PeriodSpentMicros - key.ReservedMicros);
        string period = key.Record.LimitReset == LimitReset.None ? "" : $" {LimitResetPeriods.ToWire(key.Record.LimitReset)}";
        return new QlaudError(QlaudErrorKind.PaymentRequired,
            remaining == 0
                ? $"This key reached its{period} spend limit of ${Usd(cap)}."
                : $"This request's worst-case cost (${Usd(amount)}) exceeds the ${Usd(remaining)} left of this key's{period} spend limit of ${Usd(cap)}. Lower max_tokens or raise the limit.",
            "spend_limit_exceeded");
    }

    private static string Usd(long micros) => (micros / 1_000_000m).ToString("0.######", System.Globalization.CultureInfo.InvariantCulture);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Usage of key {KeyId} cost {ChargedMicros} micro-USD, more than its reservation of {ReservedMicros}; billed {BilledMicros} (the cap or wallet limit), the rest is written off")]
        public static partial void WrittenOff(ILogger logger, string keyId, long chargedMicros, long billedMicros, long reservedMicros);

        [LoggerMessage(2, LogLevel.Error, "The upstream of route {Route} reported no usage for request {RequestId}; charged from the reservation's estimate")]
        public static partial void UsageEstimated(ILogger logger, string route, string requestId);
    }
}
