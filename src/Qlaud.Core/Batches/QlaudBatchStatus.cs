namespace Qlaud.Batches;

/// <summary>The state of a batch, named as the OpenAI Batch API names it (the Anthropic surface maps it to <c>processing_status</c>).</summary>
public enum QlaudBatchStatus
{
    /// <summary>Created; the worker has not started it yet.</summary>
    Validating,

    /// <summary>The input was invalid: no request was run (see <see cref="QlaudBatch.Errors"/>).</summary>
    Failed,

    /// <summary>Requests are being run.</summary>
    InProgress,

    /// <summary>Every request finished; the results are being written.</summary>
    Finalizing,

    /// <summary>Every request finished and the results are available.</summary>
    Completed,

    /// <summary>The completion window ended first: requests not run by then are expired; the others' results are available.</summary>
    Expired,

    /// <summary>Cancel was asked: no new request starts, running ones finish.</summary>
    Cancelling,

    /// <summary>Cancelled: requests not run are canceled; the others' results are available.</summary>
    Cancelled,
}
