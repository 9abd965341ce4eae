using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Metering;

namespace Qlaud.Connectors.Tools;

/// <summary>Puts tool calls on the bill: a call's flat price (plus markup) is reserved against the caller's key cap and wallet
/// before the tool runs, and settled into the ledger as a <c>tool</c> entry with the tool's name when it succeeded.</summary>
/// <remarks>A call the key cannot afford never runs: the model gets an error text instead. A failed call is released, not
/// charged. Free calls (webhook and connector tools, free builtins) are reserved at zero and settled at zero, so they are
/// counted (<c>/v1/usage</c> <c>by_tool</c>) and count as a request against the key's rpm limit. With
/// <c>Qlaud:Metering:Enabled=false</c> nothing is reserved or recorded.</remarks>
internal sealed class ToolBilling(ISpendGuard guard, IOptions<QlaudOptions> options)
{
    private readonly bool _enabled = options.Value.Metering.Enabled;
    private readonly decimal _markupPercent = options.Value.Pricing.MarkupPercent;

    /// <summary>What the caller is charged for a call priced <paramref name="priceMicros"/>: the price plus markup, rounded up.</summary>
    public long Charge(long priceMicros) => MarkupPricing.Charge(priceMicros, _markupPercent);

    /// <summary>Reserves one call of <paramref name="tool"/>; the refusal's message when the caller cannot afford it.</summary>
    public async ValueTask<(SpendReservation? Reservation, string? Refusal)> ReserveAsync(QlaudCaller caller, string tool, long priceMicros, CancellationToken cancellationToken)
    {
        if (!_enabled)
        {
            return (null, null);
        }

        var decision = await guard.ReserveAsync(caller, new SpendEstimate(0, 0, Charge(priceMicros)), cancellationToken).ConfigureAwait(false);
        if (decision.Reservation is { } reservation)
        {
            return (reservation, null);
        }

        var error = decision.Error!;
        return (null, error.Kind == QlaudErrorKind.PaymentRequired
            ? $"The tool {tool} costs ${Charge(priceMicros) / 1_000_000m:0.######} a call and this key cannot afford it ({error.Message}). It was not run."
            : $"The tool {tool} was not run: {error.Message}");
    }

    /// <summary>Settles a call that ran: its price (markup added by the guard) into the ledger under the tool's name.</summary>
    public void Settle(SpendReservation? reservation, string tool, long priceMicros, string? callId)
    {
        if (reservation is not null)
        {
            guard.Settle(reservation, new SettledUsage(null, null, default, priceMicros, callId) { Tool = tool });
        }
    }

    /// <summary>Frees a call that failed, charging nothing.</summary>
    public void Release(SpendReservation? reservation)
    {
        if (reservation is not null)
        {
            guard.Release(reservation);
        }
    }
}
