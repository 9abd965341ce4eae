namespace Qlaud.Threads;

/// <summary>What erasing an end user removed.</summary>
/// <param name="EndUserId">The end user.</param>
/// <param name="ThreadsDeleted">Threads deleted.</param>
/// <param name="MessagesDeleted">Messages deleted.</param>
/// <param name="LedgerEntriesUnlinked">Ledger rows whose end-user id was cleared (their amounts stay).</param>
public sealed record EndUserErasure(string EndUserId, int ThreadsDeleted, int MessagesDeleted, int LedgerEntriesUnlinked)
{
    /// <summary>Messages removed from the search index (their text, full-text entries and embeddings).</summary>
    public int SearchEntriesDeleted { get; init; }

    /// <summary>Connector connections deleted, with their encrypted credentials and pending connect links.</summary>
    public int ConnectionsDeleted { get; init; }

    /// <summary>Webhook tools registered for this end user only, with their signing secrets.</summary>
    public int WebhookToolsDeleted { get; init; }

    /// <summary>Batches deleted, with their requests and results.</summary>
    public int BatchesDeleted { get; init; }

    /// <summary>Files deleted (batch inputs and outputs), records and content.</summary>
    public int FilesDeleted { get; init; }
}
