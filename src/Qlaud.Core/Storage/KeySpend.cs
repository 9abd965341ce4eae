namespace Qlaud.Storage;

/// <summary>One key's summed charges in one cap period, for <see cref="LedgerSession.WriteAsync"/>.</summary>
internal readonly record struct KeySpend(string KeyId, long PeriodStartMs, long SpendMicros, long LastUsedAtMs);
