namespace Qlaud.Batches;

/// <summary>Where one request of a batch stands. Every state but <see cref="Pending"/> is final: the request is never sent again.</summary>
public enum BatchRequestState
{
    /// <summary>Not finished yet (not sent, or in flight).</summary>
    Pending,

    /// <summary>Answered with a 2xx status.</summary>
    Succeeded,

    /// <summary>Answered with an error (an upstream's, or the gateway's: over the cap, unknown model, no route).</summary>
    Errored,

    /// <summary>The batch was cancelled before the request was sent.</summary>
    Canceled,

    /// <summary>The batch's completion window ended before the request was sent.</summary>
    Expired,
}
