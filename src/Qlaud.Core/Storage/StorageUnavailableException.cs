namespace Qlaud.Storage;

/// <summary>The database cannot serve a read or a write now (the ledger writer is failing or behind, a query timed out); the
/// HTTP surface answers 503 with the message.</summary>
internal sealed class StorageUnavailableException : Exception
{
    public StorageUnavailableException()
    {
    }

    public StorageUnavailableException(string message)
        : base(message)
    {
    }

    public StorageUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
