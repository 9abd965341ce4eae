using Qlaud.Threads;

namespace Qlaud.Batches;

/// <summary>
/// Batch jobs in process: submit a list of requests, follow it, read its results. The <c>/v1/batches</c> and
/// <c>/v1/messages/batches</c> endpoints call this service.
/// </summary>
/// <remarks>
/// <para>A batch runs in the background worker on any model of the catalog. Each request goes through routing (translation
/// included) and metering like an interactive request of the submitting key: its worst case is reserved before it
/// is sent and its real cost settled after, and its ledger entry names the batch. A key that reaches its cap mid-batch gets
/// 402 errors for the rest of its requests; the batch still completes.</para>
/// <para>Every request's state is stored: after a restart the worker resumes where it stopped and never sends a request that
/// has a result again.</para>
/// <para>A caller sees the batches it may see like threads: master and admin keys the account's, an end-user key its end
/// user's, another key its own. A batch it may not see is reported as missing (null).</para>
/// </remarks>
public interface IQlaudBatches
{
    /// <summary>Creates a batch and hands it to the worker.</summary>
    /// <param name="caller">The submitter: every request is metered to it.</param>
    /// <param name="batch">The requests.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="QlaudException">The batch is invalid (400: an unknown endpoint, an empty or too long list, a duplicate
    /// or empty <c>custom_id</c>, a body that is not a JSON object, an unknown model, <c>stream</c> set); the message names the request.</exception>
    Task<QlaudBatch> CreateAsync(QlaudCaller caller, NewBatch batch, CancellationToken cancellationToken = default);

    /// <summary>The batch, or null when it does not exist or <paramref name="caller"/> may not see it.</summary>
    Task<QlaudBatch?> GetAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default);

    /// <summary>The batches of one surface (<c>openai</c> or <c>anthropic</c>) the caller may see, newest first.</summary>
    /// <returns>The page, or null when the <c>after</c>/<c>before</c> cursor names no visible batch.</returns>
    Task<QlaudPage<QlaudBatch>?> ListAsync(QlaudCaller caller, string surface, PageOptions page, CancellationToken cancellationToken = default);

    /// <summary>Asks the batch to stop: no new request starts, running ones finish, the rest are canceled.</summary>
    /// <returns>The batch (<see cref="QlaudBatchStatus.Cancelling"/>, or unchanged when it had already ended), or null when not visible.</returns>
    Task<QlaudBatch?> CancelAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default);

    /// <summary>Deletes an ended batch with its requests and results, and the output and error files Qlaud wrote for it (not its input file).</summary>
    /// <returns>False when not visible.</returns>
    /// <exception cref="QlaudException">The batch has not ended (400).</exception>
    Task<bool> DeleteAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default);

    /// <summary>The requests' results as they finish (those already finished first, in request order); ends when the batch
    /// ended and every result was returned.</summary>
    /// <exception cref="QlaudException">The batch does not exist or is not visible (404).</exception>
    IAsyncEnumerable<QlaudBatchResult> ResultsAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default);
}
