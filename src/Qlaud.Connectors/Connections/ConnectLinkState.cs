namespace Qlaud.Connectors;

/// <summary>What a connect link is when the hosted page opens or submits it.</summary>
internal enum ConnectLinkState
{
    /// <summary>Usable: the page shows the form (or starts the sign-in).</summary>
    Ready,

    /// <summary>No such link (never minted, or erased with its end user).</summary>
    Unknown,

    /// <summary>Past its expiry.</summary>
    Expired,

    /// <summary>Already used.</summary>
    Used,

    /// <summary>The connector is no longer allowed, or its server changed.</summary>
    Unavailable,

    /// <summary>The submitted key was refused by the server, or the server could not be reached; nothing stored.</summary>
    Refused,

    /// <summary>Connected: the credentials are stored.</summary>
    Connected,
}

/// <summary>The outcome of opening or submitting a connect link.</summary>
/// <param name="State">The state.</param>
/// <param name="Connector">The connector of the link, when known.</param>
/// <param name="EndUserId">The end user the link connects (empty for the account).</param>
/// <param name="Message">For <see cref="ConnectLinkState.Refused"/>: what went wrong, fit to show on the page.</param>
internal sealed record ConnectLinkOutcome(ConnectLinkState State, ConnectorDefinition? Connector = null, string? EndUserId = null, string? Message = null)
{
    /// <summary>For a <see cref="ConnectLinkState.Ready"/> OAuth link: where to send the browser.</summary>
    public Uri? RedirectTo { get; init; }
}
