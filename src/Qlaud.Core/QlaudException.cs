namespace Qlaud;

/// <summary>Thrown by the in-process <c>IChatClient</c> when Qlaud cannot serve a request; carries the same error the HTTP surface would send.</summary>
public sealed class QlaudException : Exception
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public QlaudException(QlaudError error) : base((error ?? throw new ArgumentNullException(nameof(error))).Message) => Error = error;

    /// <summary>The error: kind, message, code and HTTP status.</summary>
    public QlaudError Error { get; }
}
