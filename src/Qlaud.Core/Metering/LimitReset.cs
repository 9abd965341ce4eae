namespace Qlaud.Metering;

/// <summary>When a key's spend cap starts over. Periods are calendar periods in UTC.</summary>
internal enum LimitReset
{
    /// <summary>A lifetime cap. Wire value <c>none</c>.</summary>
    None,
    /// <summary>Every day at 00:00 UTC. Wire value <c>daily</c>.</summary>
    Daily,
    /// <summary>Every Monday at 00:00 UTC. Wire value <c>weekly</c>.</summary>
    Weekly,
    /// <summary>On the first of every month at 00:00 UTC. Wire value <c>monthly</c>.</summary>
    Monthly,
}

/// <summary>Period arithmetic and wire names for <see cref="LimitReset"/>.</summary>
internal static class LimitResetPeriods
{
    private const long DayMs = 86_400_000;

    /// <summary>The start (Unix ms) of the period that contains <paramref name="nowMs"/>; 0 for lifetime caps.</summary>
    public static long Start(LimitReset reset, long nowMs)
    {
        long days = Math.DivRem(nowMs, DayMs, out long rest);
        if (rest < 0)
        {
            days--;
        }

        switch (reset)
        {
            case LimitReset.Daily:
                return days * DayMs;
            case LimitReset.Weekly:
                // 1970-01-01 was a Thursday: (days + 3) mod 7 counts days since Monday.
                long sinceMonday = ((days + 3) % 7 + 7) % 7;
                return (days - sinceMonday) * DayMs;
            case LimitReset.Monthly:
                var now = DateTimeOffset.FromUnixTimeMilliseconds(nowMs);
                return new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
            default:
                return 0;
        }
    }

    /// <summary>When the period that started at <paramref name="startMs"/> ends; null for lifetime caps.</summary>
    public static long? End(LimitReset reset, long startMs) => reset switch
    {
        LimitReset.Daily => startMs + DayMs,
        LimitReset.Weekly => startMs + (7 * DayMs),
        LimitReset.Monthly => DateTimeOffset.FromUnixTimeMilliseconds(startMs).AddMonths(1).ToUnixTimeMilliseconds(),
        _ => null,
    };

    public static string ToWire(LimitReset reset) => reset switch
    {
        LimitReset.Daily => "daily",
        LimitReset.Weekly => "weekly",
        LimitReset.Monthly => "monthly",
        _ => "none",
    };

    public static bool TryParse(string? value, out LimitReset reset)
    {
        switch (value)
        {
            case null or "" or "none" or "never" or "lifetime":
                reset = LimitReset.None;
                return true;
            case "daily":
                reset = LimitReset.Daily;
                return true;
            case "weekly":
                reset = LimitReset.Weekly;
                return true;
            case "monthly":
                reset = LimitReset.Monthly;
                return true;
            default:
                reset = LimitReset.None;
                return false;
        }
    }
}
