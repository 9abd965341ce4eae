namespace Qlaud.FakeProvider;

public sealed partial class FakeProviderServer
{
    /// <summary>Whether the results of the fake's batch APIs leave out <c>usage</c> (a provider whose results cannot be priced).</summary>
    public bool OmitBatchUsage { get; set; }

    internal FakeBatches Batches { get; } = new();
}
