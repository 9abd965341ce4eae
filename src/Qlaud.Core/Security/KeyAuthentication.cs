namespace Qlaud.Security;

/// <summary>The outcome of authenticating a presented key: the caller, or the 401 error to answer with.</summary>
internal readonly record struct KeyAuthentication(QlaudCaller? Caller, QlaudError? Error)
{
    public static KeyAuthentication Unknown { get; } = new(null, new QlaudError(QlaudErrorKind.Authentication, "Invalid API key.", "invalid_api_key"));
}
