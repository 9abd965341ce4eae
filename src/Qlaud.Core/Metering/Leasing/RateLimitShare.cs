namespace Qlaud.Metering.Leasing;

/// <summary>How many gateway instances share the database, for splitting per-key rate limits between them: 1 on a
/// single-process store; on PostgreSQL the live instances seen by the lease heartbeat (<see cref="BudgetLeases"/>).</summary>
internal sealed class RateLimitShare
{
    private int _nodes = 1;

    /// <summary>The live instances, this one included (at least 1).</summary>
    public int Nodes => Volatile.Read(ref _nodes);

    public void SetNodes(int nodes) => Volatile.Write(ref _nodes, Math.Max(1, nodes));
}
