using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>A wallet as <c>GET /v1/wallet</c> shows it.</summary>
internal sealed record WalletView(string AccountId, long BalanceMicros, long ReservedMicros, bool Enforced, IReadOnlyList<LedgerEntryEntity> RecentEntries)
{
    public long AvailableMicros => BalanceMicros - ReservedMicros;
}
