namespace Qlaud.Batches;

/// <summary>How submitting a batch to a provider's batch API (or resuming a submission after a restart) turned out.</summary>
internal enum NativeSubmission
{
    /// <summary>Not at the provider: Qlaud runs the requests itself (the provider refused it, no request fitted, or a resumed
    /// submission found no provider batch and the batch no longer qualifies).</summary>
    Local,

    /// <summary>At the provider (submitted now, or an earlier submission found and adopted): the batch is followed there.</summary>
    Submitted,

    /// <summary>Whether the provider took it is not known yet (the call failed without saying, or the provider could not be
    /// asked): nothing runs meanwhile, and the submission is resumed at the batch's next run.</summary>
    Unresolved,

    /// <summary>Whether the provider took it cannot be told safely: nothing was submitted again, and every request the
    /// submission held got an error result.</summary>
    Abandoned,
}
