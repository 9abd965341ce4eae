namespace Qlaud.Connectors.Builtins.Email;

/// <summary>The mail server of <c>send_email</c>'s <c>smtp</c> backend, in <c>Qlaud:Builtins:send_email:Smtp</c>.</summary>
public sealed class SendEmailSmtpOptions
{
    /// <summary>The server's host name. Required for the <c>smtp</c> backend.</summary>
    public string? Host { get; set; }

    /// <summary>The server's port (default 587, submission).</summary>
    public int Port { get; set; } = 587;

    /// <summary>The user name to authenticate with; no authentication when unset.</summary>
    public string? UserName { get; set; }

    /// <summary>The password of <see cref="UserName"/>.</summary>
    public string? Password { get; set; }

    /// <summary>Transport security: <c>Auto</c> (default: TLS from the start on port 465, otherwise STARTTLS, required),
    /// <c>SslOnConnect</c>, <c>StartTls</c> (required), or <c>None</c> (plain text, only for a relay on a trusted network).</summary>
    public string Security { get; set; } = "Auto";
}
