namespace Qlaud.Dialects;

/// <summary>Malformed wire input, or an error reported by an upstream inside a body or stream.</summary>
public sealed class DialectException : Exception
{
    /// <summary>Creates the exception for an error of <paramref name="kind"/>.</summary>
    public DialectException(QlaudErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    /// <summary>What went wrong, mapped to a status and each dialect's error type.</summary>
    public QlaudErrorKind Kind { get; }
}
