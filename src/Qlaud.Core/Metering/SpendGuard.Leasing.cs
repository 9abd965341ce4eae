using Qlaud.Metering.Leasing;

namespace Qlaud.Metering;

// Reserving and settling against budget leases, when several instances share the database (PostgreSQL). The key's cap and
// the enforced wallet are funded from this instance's leases, checked in the same critical sections as on a single process;
// the database is asked only when a lease cannot fund a request (BudgetLeases).
internal sealed partial class SpendGuard
{
    /// <summary>How many grants one request makes before it gives up (other requests on this instance may use up each grant
    /// before it looks again); looking again after another request's grant costs no round trip and is bounded separately.</summary>
    private const int MaxLeaseGrants = 16, MaxLeaseLooks = 256;

    private async ValueTask<SpendDecision> ReserveLeasedAsync(QlaudCaller caller, SpendEstimate estimate, KeyState? key, AccountState account, long now, CancellationToken cancellationToken)
    {
        var leases = _leases!;
        long amount = estimate.WorstCaseMicros;
        int grants = 0;
        for (int look = 1; ; look++)
        {
            BudgetLease? keyLease = null, walletLease = null;
            long keyShort = 0, walletShort = 0, periodStart = 0;
            int keyVersion = 0, walletVersion = 0;
            var funding = LeaseFunding.None;
            bool admitted = false;
            if (key is null)
            {
                lock (account.Gate)
                {
                    if (_enforceWallet)
                    {
                        walletLease = leases.For(account);
                        walletShort = walletLease.Shortfall(amount, account.ReservedMicros, now);
                        walletVersion = walletLease.Version;
                        funding |= LeaseFunding.Wallet;
                    }

                    if (walletShort == 0)
                    {
                        account.ReservedMicros += amount;
                        admitted = true;
                    }
                }
            }
            else
            {
                lock (key.Gate)
                {
                    key.RollPeriod(now);
                    periodStart = key.PeriodStartMs;

                    // This instance's own view still applies (a cap lowered here takes effect at once); the lease decides the rest.
                    if (key.Record.MaxSpendMicros is { } cap && key.PeriodSpentMicros + key.ReservedMicros + amount > cap)
                    {
                        return SpendDecision.Refuse(CapError(key, cap, amount));
                    }

                    if (key.Record.MaxSpendMicros is not null && !key.Uncapped)
                    {
                        keyLease = leases.For(key);
                        keyShort = keyLease.Shortfall(amount, key.ReservedMicros, now);
                        keyVersion = keyLease.Version;
                        funding |= LeaseFunding.Key;
                    }

                    lock (account.Gate)
                    {
                        if (_enforceWallet)
                        {
                            walletLease = leases.For(account);
                            walletShort = walletLease.Shortfall(amount, account.ReservedMicros, now);
                            walletVersion = walletLease.Version;
                            funding |= LeaseFunding.Wallet;
                        }

                        if (keyShort == 0 && walletShort == 0)
                        {
                            account.ReservedMicros += amount;
                            key.ReservedMicros += amount;
                            admitted = true;
                        }
                    }
                }
            }

            if (admitted)
            {
                if (keyLease is not null)
                {
                    leases.TopUpIfLow(keyLease, ReservedOf(key!), periodStart);
                }

                if (walletLease is not null)
                {
                    leases.TopUpIfLow(walletLease, ReservedOf(account), 0);
                }

                key?.Touch(now);
                return SpendDecision.Admit(new SpendReservation(caller, estimate, key, account, now, funding));
            }

            LeaseAttempt result;
            if (keyShort > 0)
            {
                result = await leases.AcquireAsync(keyLease!, keyShort, periodStart, keyVersion, cancellationToken).ConfigureAwait(false);
                if (result.Outcome == LeaseAttemptOutcome.Refused)
                {
                    return SpendDecision.Refuse(PoolCapError(key!, keyLease!, amount, result.PoolMicros, now));
                }

                if (result.Outcome == LeaseAttemptOutcome.Uncapped)
                {
                    key!.Uncapped = true;
                }
            }
            else
            {
                result = await leases.AcquireAsync(walletLease!, walletShort, 0, walletVersion, cancellationToken).ConfigureAwait(false);
                if (result.Outcome == LeaseAttemptOutcome.Refused)
                {
                    return SpendDecision.Refuse(PoolWalletError(account, walletLease!, amount, result.PoolMicros, now));
                }
            }

            if (result.Outcome == LeaseAttemptOutcome.Stopped)
            {
                return SpendDecision.Refuse(new QlaudError(QlaudErrorKind.Unavailable,
                    "This gateway instance is shutting down and has returned its budget leases; send the request to another instance.",
                    "shutting_down"));
            }

            if (result.Outcome == LeaseAttemptOutcome.Granted)
            {
                grants++;
            }

            if (grants == MaxLeaseGrants || look == MaxLeaseLooks)
            {
                return SpendDecision.Refuse(new QlaudError(QlaudErrorKind.Unavailable,
                    "This request could not secure its budget: other requests kept using up this instance's budget leases. Try again shortly.",
                    "budget_lease_contention"));
            }

            now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        }
    }

    private static long ReservedOf(KeyState key)
    {
        lock (key.Gate)
        {
            return key.ReservedMicros;
        }
    }

    private static long ReservedOf(AccountState account)
    {
        lock (account.Gate)
        {
            return account.ReservedMicros;
        }
    }

    /// <summary>Frees the reservation and charges up to what its leases can still fund (the rest is written off, as over a cap).</summary>
    private long SettleLeased(SpendReservation reservation, long charged, long now, out long periodStart)
    {
        long amount = reservation.AmountMicros;
        var key = reservation.Key;
        var account = reservation.Account;
        bool keyFunded = (reservation.Leases & LeaseFunding.Key) != 0;
        bool walletFunded = (reservation.Leases & LeaseFunding.Wallet) != 0;
        long billed;
        periodStart = 0;
        if (key is null)
        {
            lock (account.Gate)
            {
                account.ReservedMicros -= amount;
                billed = Math.Min(charged, walletFunded ? LeaseHeadroom(account.Lease, account.ReservedMicros, now) : WalletHeadroom(account));
                account.BalanceMicros -= billed;
                if (walletFunded)
                {
                    account.Lease!.BilledMicros += billed;
                }
            }

            return billed;
        }

        lock (key.Gate)
        {
            key.RollPeriod(now);
            key.ReservedMicros -= amount;
            long capHeadroom = keyFunded ? LeaseHeadroom(key.Lease, key.ReservedMicros, now)
                : key.Record.MaxSpendMicros is { } cap ? Math.Max(0, cap - key.PeriodSpentMicros - key.ReservedMicros) : long.MaxValue;
            lock (account.Gate)
            {
                account.ReservedMicros -= amount;
                long walletHeadroom = walletFunded ? LeaseHeadroom(account.Lease, account.ReservedMicros, now) : WalletHeadroom(account);
                billed = Math.Min(charged, Math.Min(capHeadroom, walletHeadroom));
                account.BalanceMicros -= billed;
                if (walletFunded)
                {
                    account.Lease!.BilledMicros += billed;
                }
            }

            if (keyFunded)
            {
                key.Lease!.BilledMicros += billed;
            }

            key.PeriodSpentMicros += billed;
            key.LifetimeSpentMicros += billed;
            periodStart = key.PeriodStartMs;
        }

        return billed;
    }

    /// <summary>What a lease can still bill beyond the other reservations it funds; nothing once it lapsed (this instance could
    /// not renew it, so another may already have reclaimed it: the charge is written off rather than pushed past the cap).
    /// Call with the owner's gate held.</summary>
    private static long LeaseHeadroom(BudgetLease? lease, long reservedMicros, long now)
        => lease is null ? 0 : Math.Max(0, lease.Available(reservedMicros, now));

    private static QlaudError PoolCapError(KeyState key, BudgetLease lease, long amount, long poolMicros, long now)
    {
        long local;
        lock (key.Gate)
        {
            local = Math.Max(0, lease.Available(key.ReservedMicros, now));
        }

        long cap = key.Record.MaxSpendMicros ?? 0;
        long remaining = Math.Max(0, poolMicros) + local;
        string period = key.Record.LimitReset == LimitReset.None ? "" : $" {LimitResetPeriods.ToWire(key.Record.LimitReset)}";
        return new QlaudError(QlaudErrorKind.PaymentRequired,
            remaining == 0
                ? $"This key reached its{period} spend limit of ${Usd(cap)}."
                : $"This request's worst-case cost (${Usd(amount)}) exceeds the ${Usd(remaining)} left of this key's{period} spend limit of ${Usd(cap)}. Lower max_tokens or raise the limit.",
            "spend_limit_exceeded");
    }

    private static QlaudError PoolWalletError(AccountState account, BudgetLease lease, long amount, long poolMicros, long now)
    {
        long local;
        lock (account.Gate)
        {
            local = Math.Max(0, lease.Available(account.ReservedMicros, now));
        }

        long available = Math.Max(0, poolMicros) + local;
        return new QlaudError(QlaudErrorKind.PaymentRequired,
            available == 0
                ? "The account's wallet is empty. Add credit to continue."
                : $"The account's wallet balance (${Usd(available)} available) does not cover this request's worst-case cost (${Usd(amount)}). Add credit, or lower max_tokens.",
            "insufficient_balance");
    }
}
