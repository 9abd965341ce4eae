using MimeKit;

namespace Qlaud.Connectors.Builtins.Email;

/// <summary>One email as the model asked for it, its addresses parsed, the sender the operator's.</summary>
internal sealed record OutgoingEmail(MailboxAddress From, IReadOnlyList<MailboxAddress> To, IReadOnlyList<MailboxAddress> Cc, IReadOnlyList<MailboxAddress> Bcc,
    MailboxAddress? ReplyTo, string Subject, string? Text, string? Html);
