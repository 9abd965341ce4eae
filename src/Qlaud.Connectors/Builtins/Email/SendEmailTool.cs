using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.Email;

/// <summary><c>send_email</c>: sends an email from the operator's fixed sender, with Resend's API (<see cref="ResendEmailSender"/>)
/// or the operator's mail server (<see cref="SmtpEmailSender"/>), chosen by <see cref="SendEmailOptions.Backend"/>.</summary>
/// <remarks>The model gives recipients, subject and body; it cannot change the sender. Without a valid
/// <see cref="SendEmailOptions.From"/>, or without the backend's key or server, the tool is not available.</remarks>
internal sealed class SendEmailTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<SendEmailOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<SendEmailTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "send_email";

    /// <summary>The environment variable read when no Resend key is configured.</summary>
    public const string KeyVariable = "RESEND_API_KEY";

    /// <summary>The default price with Resend: its Pro plan's list price, $20 a month for 50,000 emails, is $0.0004 an email.</summary>
    public const long ResendPriceMicros = 400;

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "to":{"type":"array","items":{"type":"string"},"description":"Recipient email addresses."},
          "subject":{"type":"string","description":"The subject line."},
          "text":{"type":"string","description":"The plain-text body."},
          "html":{"type":"string","description":"Optional HTML body (text is still recommended)."},
          "cc":{"type":"array","items":{"type":"string"},"description":"Optional cc addresses."},
          "bcc":{"type":"array","items":{"type":"string"},"description":"Optional bcc addresses."},
          "reply_to":{"type":"string","description":"Optional address replies should go to."}},
         "required":["to","subject","text"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Send an email (from the operator's fixed sender address) to one or more recipients. Returns the email's id.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable
    {
        get
        {
            var settings = options.CurrentValue;
            return settings.Enabled && Mailbox(settings.From) is not null && BackendOf(settings) switch
            {
                "resend" => Key is not null,
                "smtp" => !string.IsNullOrWhiteSpace(settings.Smtp.Host),
                _ => false,
            };
        }
    }

    /// <inheritdoc/>
    /// <remarks>With Resend, <see cref="ResendPriceMicros"/>; through the operator's own mail server, 0.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, BackendOf(options.CurrentValue) == "smtp" ? 0 : ResendPriceMicros);

    private string? Key => VendorHttp.Key(options.CurrentValue.ApiKey, configuration, KeyVariable);

    /// <summary>The backend's name, <c>resend</c> or <c>smtp</c>, or null when it is neither.</summary>
    internal static string? BackendOf(SendEmailOptions settings) => settings.Backend?.Trim().ToLowerInvariant() switch
    {
        "resend" or "" or null => "resend",
        "smtp" => "smtp",
        _ => null,
    };

    /// <summary>One mailbox (<c>a@b.c</c> or <c>Name &lt;a@b.c&gt;</c>), or null.</summary>
    internal static MailboxAddress? Mailbox(string? value)
        => !string.IsNullOrWhiteSpace(value) && MailboxAddress.TryParse(value.Trim(), out var mailbox)
            && mailbox.Address.IndexOf('@', StringComparison.Ordinal) is > 0 and var at && at < mailbox.Address.Length - 1
            ? mailbox
            : null;

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        string? backend = BackendOf(settings);
        var from = Mailbox(settings.From);
        if (!IsAvailable || from is null || backend is null)
        {
            return BuiltinToolResult.Error(ToolName + " is not configured on this gateway.");
        }

        string? toError = Addresses(call.Get("to"), "to", required: true, out var to);
        string? ccError = Addresses(call.Get("cc"), "cc", required: false, out var cc);
        string? bccError = Addresses(call.Get("bcc"), "bcc", required: false, out var bcc);
        string? invalid = toError ?? ccError ?? bccError;
        if (invalid is not null)
        {
            return BuiltinToolResult.Error(invalid);
        }

        if (to.Count + cc.Count + bcc.Count > settings.MaxRecipients)
        {
            return BuiltinToolResult.Error($"At most {settings.MaxRecipients} recipients (to, cc and bcc together) per email.");
        }

        MailboxAddress? replyTo = null;
        if (call.String("reply_to") is { } replyText && !string.IsNullOrWhiteSpace(replyText) && (replyTo = Mailbox(replyText)) is null)
        {
            return BuiltinToolResult.Error($"\"reply_to\" is not an email address: {replyText}");
        }

        string? subject = call.String("subject");
        string? text = call.String("text");
        string? html = call.String("html");
        if (string.IsNullOrWhiteSpace(subject))
        {
            return BuiltinToolResult.Error("Give \"subject\": the subject line.");
        }

        if (string.IsNullOrWhiteSpace(text) && string.IsNullOrWhiteSpace(html))
        {
            return BuiltinToolResult.Error("Give \"text\": the body of the email.");
        }

        var email = new OutgoingEmail(from, to, cc, bcc, replyTo, subject.Trim(), string.IsNullOrEmpty(text) ? null : text, string.IsNullOrEmpty(html) ? null : html);
        var result = backend == "smtp"
            ? await SmtpEmailSender.SendAsync(settings, email, timeProvider, cancellationToken).ConfigureAwait(false)
            : await ResendEmailSender.SendAsync(httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName)), settings, Key!,
                VendorHttp.IdempotencyKey(ToolName, call), email, timeProvider, cancellationToken).ConfigureAwait(false);
        if (result.IsError)
        {
            VendorHttp.LogRefused(logger, ToolName, backend);
        }

        return result;
    }

    /// <summary>The addresses of an argument (a string or an array of strings), or the error text.</summary>
    private static string? Addresses(JsonElement value, string name, bool required, out List<MailboxAddress> addresses)
    {
        addresses = [];
        if (value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return required ? $"Give \"{name}\": one or more email addresses." : null;
        }

        if (VendorHttp.Strings(value) is not { } texts)
        {
            return $"\"{name}\" must be an array of email addresses.";
        }

        foreach (string text in texts)
        {
            if (Mailbox(text) is not { } mailbox)
            {
                return $"\"{name}\" has something that is not an email address: {text}";
            }

            addresses.Add(mailbox);
        }

        return required && addresses.Count == 0 ? $"Give \"{name}\": one or more email addresses." : null;
    }
}
