namespace Qlaud.Metering;

/// <summary>Turns upstream cost into the charged cost: upstream × (1 + markup %), rounded up to a whole micro-USD.</summary>
internal static class MarkupPricing
{
    public static long Charge(long upstreamMicros, decimal markupPercent)
    {
        if (upstreamMicros <= 0)
        {
            return 0;
        }

        return markupPercent <= 0 ? upstreamMicros : upstreamMicros + (long)decimal.Ceiling(upstreamMicros * markupPercent / 100m);
    }
}
