using Qlaud.Storage;

namespace Qlaud.Metering.Leasing;

/// <summary>This gateway instance as the lease table knows it: a fresh id per process (a restarted instance is a new node,
/// so it never mistakes a crashed predecessor's leases for its own), and whether leasing is on (a shared database).</summary>
internal sealed class LeaseNode(IStorageProvider storage)
{
    public string Id { get; } = "node_" + Guid.NewGuid().ToString("N");

    /// <summary>Whether caps and wallets are leased: only when several instances may share the database.</summary>
    public bool IsActive { get; } = storage.IsShared;
}
