namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Metering</c> section: wallet enforcement, the ledger writer and the key cache.</summary>
public sealed class MeteringOptions
{
    /// <summary>
    /// Whether requests are metered (default <see langword="true"/>): spend caps, rate limits, the wallet and the usage
    /// ledger. False makes Qlaud a pure router (keys still authenticate); meant for deployments that bill elsewhere and
    /// for measuring what metering costs.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Whether requests must fit the account's prepaid wallet balance (default <see langword="false"/>). When false the
    /// wallet still records every charge and may go negative (what the account owes); key caps apply either way.
    /// </summary>
    public bool EnforceWallet { get; set; }

    /// <summary>The most ledger entries written in one transaction (default 256, 1 to 10000).</summary>
    /// <remarks>
    /// The writer commits when this many entries are queued or 50 ms after the first, whichever comes first. Each commit has a
    /// fixed cost (the wallet's and the keys' rows, the table's last pages), so fewer, larger commits cost less CPU per entry;
    /// the writer gives up its core every two rows, so a larger batch is no longer one long burst beside the requests, but
    /// its commit is. On a busy 2-core machine at 1 connection (interleaved on/off pairs), metering cost 8 % of throughput and
    /// +0.12 ms at p99 with 64 entries and 20 ms, against 1 % and +0.05 ms (+0.35 ms at p99.9, against +0.23) with 256 and
    /// 50 ms; 16 and 32 were worse on both counts.
    /// </remarks>
    public int LedgerBatchSize { get; set; } = 256;

    /// <summary>The most settled usage entries that may wait for the ledger writer before new metered requests wait to be
    /// admitted (default 256, one full batch; 1 to 10000000). This bounds what a process crash can lose.</summary>
    /// <remarks>
    /// <para>While this many entries are settled but not yet committed, a new metered request waits at its reservation
    /// (asynchronously, before any upstream call) until the writer has committed below the bound; after
    /// <c>Qlaud:Limits:StorageTimeoutSeconds</c> of waiting it is answered 503 (<c>ledger_queue_full</c>). Requests already
    /// admitted settle normally. A crash (<c>kill -9</c>, power loss) therefore loses at most this many entries plus one per
    /// request admitted but not yet settled at the last admission before it.</para>
    /// <para>The writer commits a batch when <c>LedgerBatchSize</c> entries wait or 50 ms after the first, so the default holds
    /// what one linger window collects. While the writer keeps up the backlog stays below it and admission costs one read of
    /// a counter. The writer stops giving up its core every few rows while the backlog is at or over this bound.</para>
    /// </remarks>
    public int MaxUnwrittenEntries { get; set; } = 256;

    /// <summary>How long a minted key's settings are trusted before they are read from the database again, in seconds
    /// (default 60; 0 = never re-read). Changes made through this node apply at once; this bounds how long a change made
    /// by another node sharing the database takes to arrive.</summary>
    public int KeyCacheSeconds { get; set; } = 60;
}
