namespace Qlaud.Security;

/// <summary>A minted key as the admin API shows it: settings and live spend, never the secret.</summary>
internal sealed record KeyView(
    ApiKeyRecord Record,
    long PeriodSpendMicros,
    long LifetimeSpendMicros,
    long? RemainingMicros,
    long? PeriodEndsAtMs,
    long? LastUsedAtMs);
