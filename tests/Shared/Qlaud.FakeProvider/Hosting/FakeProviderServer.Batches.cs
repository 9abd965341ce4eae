namespace Qlaud.FakeProvider;

public sealed partial class FakeProviderServer
{
    /// <summary>Whether the results of the fake's batch APIs leave out <c>usage</c> (a provider whose results cannot be priced).</summary>
    public bool OmitBatchUsage { get; set; }

    /// <summary>While true, the fake's batches stay <c>in_progress</c> when polled (a provider still running them); they end at
    /// the first poll after it is set back to false.</summary>
    public bool HoldBatches { get; set; }

    /// <summary>Called with the new batch's id after a batch-create request (OpenAI <c>POST /v1/batches</c>, Anthropic
    /// <c>POST /v1/messages/batches</c>) was accepted (the batch exists and is listed) and before it is answered: a test stops the
    /// gateway here to simulate a crash between the provider's acceptance and the gateway recording the provider's batch id.</summary>
    public Func<string, Task>? OnBatchAccepted { get; set; }

    /// <summary>Called before a batch-create request is accepted; when it returns false the batch is not created and the request
    /// is answered 500 (a provider that failed before taking it).</summary>
    public Func<Task<bool>>? BeforeBatchCreate { get; set; }

    /// <summary>While true, batch-create requests are answered 400 <c>invalid_request_error</c> and nothing is created (a provider
    /// that refused the batch).</summary>
    public bool RefuseBatchCreate { get; set; }

    /// <summary>The ids of the OpenAI files the fake's batch API holds: uploaded inputs and written results not yet deleted.</summary>
    public IReadOnlyCollection<string> BatchFileIds => Batches.FileIds;

    internal FakeBatches Batches { get; } = new();
}
