namespace Qlaud.Connectors.Builtins.Email;

/// <summary>Settings of <c>send_email</c>, in <c>Qlaud:Builtins:send_email</c>. <see cref="From"/> is required: without it the
/// tool is not available. With the <c>resend</c> backend the key is a Resend API key (<see cref="BuiltinToolOptions.ApiKey"/>,
/// else <c>RESEND_API_KEY</c>); with <c>smtp</c> the server is <see cref="Smtp"/>.</summary>
public sealed class SendEmailOptions : BuiltinToolOptions
{
    /// <summary>Where mail goes: <c>resend</c> (default, Resend's email API) or <c>smtp</c> (a mail server, with MailKit).</summary>
    public string Backend { get; set; } = "resend";

    /// <summary>The sender of every email, such as <c>Acme &lt;noreply@acme.com&gt;</c> (with Resend, on a verified domain). The
    /// model cannot choose the sender. Required.</summary>
    public string? From { get; set; }

    /// <summary>The most recipients (to, cc and bcc together) of one email (default 10, at most 50).</summary>
    public int MaxRecipients { get; set; } = 10;

    /// <summary>The mail server of the <c>smtp</c> backend.</summary>
    public SendEmailSmtpOptions Smtp { get; set; } = new();
}
