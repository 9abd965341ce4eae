using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Qlaud.Connectors.Builtins.Email;

/// <summary>Sends an email through the operator's mail server with MailKit's <see cref="SmtpClient"/> (one connection a call).</summary>
/// <remarks>Reference: MailKit's SmtpClient (https://mimekit.net/docs/html/T_MailKit_Net_Smtp_SmtpClient.htm) and RFC 5321. The
/// server's refusals (<see cref="SmtpCommandException"/> with its status), a refused login, an unreachable server, a failed TLS
/// handshake and the timeout are error results.</remarks>
internal static class SmtpEmailSender
{
    /// <summary>MailKit's socket options for <see cref="SendEmailSmtpOptions.Security"/>, or null when it is not one of the names.</summary>
    public static SecureSocketOptions? SocketOptions(SendEmailSmtpOptions smtp) => smtp.Security?.Trim().ToLowerInvariant() switch
    {
        "auto" or "" or null => smtp.Port == 465 ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTls,
        "sslonconnect" => SecureSocketOptions.SslOnConnect,
        "starttls" => SecureSocketOptions.StartTls,
        "none" => SecureSocketOptions.None,
        _ => null,
    };

    public static async Task<BuiltinToolResult> SendAsync(SendEmailOptions settings, OutgoingEmail email, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var smtp = settings.Smtp;
        var message = new MimeMessage { Subject = email.Subject, Date = timeProvider.GetUtcNow() };
        message.From.Add(email.From);
        message.To.AddRange(email.To);
        message.Cc.AddRange(email.Cc);
        message.Bcc.AddRange(email.Bcc);
        if (email.ReplyTo is not null)
        {
            message.ReplyTo.Add(email.ReplyTo);
        }

        message.Body = new BodyBuilder { TextBody = email.Text, HtmlBody = email.Html }.ToMessageBody();
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(email.From.Domain);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        using var client = new SmtpClient { Timeout = (int)Math.Min(int.MaxValue, settings.TimeoutSeconds * 1000) };
        try
        {
            await client.ConnectAsync(smtp.Host ?? "", smtp.Port, SocketOptions(smtp) ?? SecureSocketOptions.StartTls, timeout.Token).ConfigureAwait(false);
            if (!string.IsNullOrEmpty(smtp.UserName))
            {
                await client.AuthenticateAsync(smtp.UserName, smtp.Password ?? "", timeout.Token).ConfigureAwait(false);
            }

            await client.SendAsync(message, timeout.Token).ConfigureAwait(false);
            await client.DisconnectAsync(true, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return BuiltinToolResult.Error($"The mail server did not answer within {settings.TimeoutSeconds:0.#} s; try again later.");
        }
        catch (TimeoutException)
        {
            return BuiltinToolResult.Error($"The mail server did not answer within {settings.TimeoutSeconds:0.#} s; try again later.");
        }
        catch (AuthenticationException)
        {
            return BuiltinToolResult.Error("The operator's SMTP login was refused by the mail server. This tool cannot be used until the operator fixes it.");
        }
        catch (SmtpCommandException ex)
        {
            string reply = $"{(int)ex.StatusCode} {ex.Message}".Trim();
            return ex.ErrorCode switch
            {
                SmtpErrorCode.RecipientNotAccepted => BuiltinToolResult.Error($"The mail server refused the recipient {ex.Mailbox?.Address} ({reply}); nothing was sent."),
                SmtpErrorCode.SenderNotAccepted => BuiltinToolResult.Error($"The mail server refused the operator's sender address ({reply}); nothing was sent."),
                _ => BuiltinToolResult.Error($"The mail server refused the email ({reply})."),
            };
        }
        catch (SslHandshakeException)
        {
            return BuiltinToolResult.Error("The TLS handshake with the mail server failed; the operator's SMTP security settings need fixing.");
        }
        catch (Exception ex) when (ex is SmtpProtocolException or SocketException or IOException or ServiceNotConnectedException or NotSupportedException)
        {
            return BuiltinToolResult.Error($"The mail server could not be reached or broke off ({ex.GetType().Name}); try again later.");
        }

        return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("id", message.MessageId);
            writer.WriteString("backend", "smtp");
            writer.WriteNumber("recipients", email.To.Count + email.Cc.Count + email.Bcc.Count);
            writer.WriteEndObject();
        }));
    }
}
