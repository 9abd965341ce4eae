namespace Qlaud.Security;

/// <summary>The outcome of authenticating a presented key: the caller and its scope, or the 401 error to answer with.</summary>
/// <remarks>With neither a caller nor an error the key could not be decided from memory and a storage lookup was not allowed
/// (see <see cref="KeyAuthenticator.AuthenticateAsync(ReadOnlySpan{char}, bool, CancellationToken)"/>).</remarks>
internal readonly record struct KeyAuthentication(QlaudCaller? Caller, QlaudError? Error, KeyScope Scope = KeyScope.Standard)
{
    public static KeyAuthentication Unknown { get; } = new(null, new QlaudError(QlaudErrorKind.Authentication, "Invalid API key.", "invalid_api_key"));

    /// <summary>Not decided: the key is not in this node's memory and a storage lookup was not allowed.</summary>
    public static KeyAuthentication Undecided { get; } = new(null, null);

    /// <summary>Whether the key was neither accepted nor refused (see <see cref="Undecided"/>).</summary>
    public bool IsUndecided => Caller is null && Error is null;
}
