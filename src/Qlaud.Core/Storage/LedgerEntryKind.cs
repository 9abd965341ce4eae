namespace Qlaud.Storage;

/// <summary>What a ledger entry records.</summary>
internal enum LedgerEntryKind
{
    /// <summary>A metered request: the charged cost was debited from the wallet.</summary>
    Usage,
    /// <summary>Money added to the wallet (operator credit, a paid top-up).</summary>
    Credit,
    /// <summary>An operator's correction, positive or negative.</summary>
    Adjustment,
    /// <summary>Money returned to the payer and taken out of the wallet (a refunded top-up).</summary>
    Refund,
    /// <summary>A call of a builtin, webhook or connector tool (<see cref="LedgerEntryEntity.Tool"/>): its flat price was debited (webhook and connector calls cost nothing and are counted).</summary>
    Tool,
}
