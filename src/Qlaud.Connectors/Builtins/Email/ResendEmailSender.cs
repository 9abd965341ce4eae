using System.Net.Http.Headers;
using System.Text.Json;
using MimeKit;

namespace Qlaud.Connectors.Builtins.Email;

/// <summary>Sends an email with Resend's email API.</summary>
/// <remarks>API reference: https://resend.com/docs/api-reference/emails/send-email (<c>POST https://api.resend.com/emails</c>,
/// <c>Authorization: Bearer re_…</c>, body <c>from</c>, <c>to</c> (max 50), <c>subject</c>, <c>html</c>, <c>text</c>, <c>cc</c>,
/// <c>bcc</c>, <c>reply_to</c>; answer <c>{"id"}</c>), https://resend.com/docs/dashboard/emails/idempotency-keys (<c>Idempotency-Key</c>,
/// remembered 24 hours, which makes retries safe) and https://resend.com/docs/api-reference/errors (<c>{"statusCode","name","message"}</c>).</remarks>
internal static class ResendEmailSender
{
    /// <summary>Resend's published base URL.</summary>
    public const string DefaultBaseUrl = "https://api.resend.com/";

    private const string Vendor = "Resend";

    public static async Task<BuiltinToolResult> SendAsync(HttpClient client, SendEmailOptions settings, string key, string idempotencyKey, OutgoingEmail email,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(VendorHttp.BaseUri(settings.BaseUrl, DefaultBaseUrl), "emails"))
        {
            Content = VendorHttp.JsonContent(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("from", Sender(email.From));
                WriteAddresses(writer, "to", email.To);
                writer.WriteString("subject", email.Subject);
                writer.WriteOptional("html", email.Html);
                writer.WriteOptional("text", email.Text);
                WriteAddresses(writer, "cc", email.Cc);
                WriteAddresses(writer, "bcc", email.Bcc);
                writer.WriteOptional("reply_to", email.ReplyTo?.Address);
                writer.WriteEndObject();
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        var reply = await VendorHttp.SendAsync(client, request, settings.TimeoutSeconds, Vendor, cancellationToken).ConfigureAwait(false);
        if (reply.Failure is { } failure)
        {
            return BuiltinToolResult.Error(failure);
        }

        if (!reply.IsSuccess)
        {
            string? name = VendorHttp.JsonString(reply.Body, "name");
            string? message = VendorHttp.JsonString(reply.Body, "message");
            string? detail = name is null ? message : message is null ? name : $"{name}: {message}";
            return name is "daily_quota_exceeded" or "monthly_quota_exceeded"
                ? BuiltinToolResult.Error($"The operator's Resend sending quota is used up ({name}); no email can be sent until it resets.")
                : VendorHttp.StatusError(Vendor, reply, detail, timeProvider);
        }

        string? id = VendorHttp.JsonString(reply.Body, "id");
        return id is null
            ? BuiltinToolResult.Error("Resend answered without an email id; the email may have been sent, check before retrying.")
            : BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("id", id);
                writer.WriteString("backend", "resend");
                writer.WriteNumber("recipients", email.To.Count + email.Cc.Count + email.Bcc.Count);
                writer.WriteEndObject();
            }));
    }

    /// <summary>The sender as Resend documents it, <c>Name &lt;address&gt;</c> (the name quoted only when it has to be).</summary>
    private static string Sender(MailboxAddress from)
        => string.IsNullOrEmpty(from.Name) ? from.Address
            : from.Name.AsSpan().IndexOfAny(",;<>\"@") < 0 ? $"{from.Name} <{from.Address}>"
            : from.ToString();

    private static void WriteAddresses(Utf8JsonWriter writer, string name, IReadOnlyList<MailboxAddress> addresses)
    {
        if (addresses.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var address in addresses)
        {
            writer.WriteStringValue(address.Address);
        }

        writer.WriteEndArray();
    }
}
