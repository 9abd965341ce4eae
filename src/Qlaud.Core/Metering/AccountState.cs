namespace Qlaud.Metering;

/// <summary>An account's wallet as this node knows it: the balance with every settled charge applied, and what is reserved.</summary>
internal sealed class AccountState(string accountId, long balanceMicros)
{
    public string AccountId { get; } = accountId;

    /// <summary>Guards the counters. Taken after a key's gate when both are needed, never before.</summary>
    public Lock Gate { get; } = new();

    public long BalanceMicros { get; set; } = balanceMicros;

    public long ReservedMicros { get; set; }

    /// <summary>This instance's lease on the wallet when the database is shared and the wallet enforced; null otherwise. Guarded by <see cref="Gate"/>.</summary>
    public Leasing.BudgetLease? Lease { get; set; }
}
