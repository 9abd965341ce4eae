using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.Zendesk;

/// <summary><c>zendesk_create_ticket</c>: creates a ticket with the Zendesk Support (Ticketing) API and the operator's API token.</summary>
/// <remarks>
/// API reference: https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket
/// (<c>POST https://{subdomain}.zendesk.com/api/v2/tickets.json</c> with <c>{"ticket":{"subject","comment":{"body"},"priority",…}}</c>,
/// 201 with the ticket), https://developer.zendesk.com/api-reference/introduction/security-and-auth/ (API token: basic
/// authentication with <c>{email}/token:{api_token}</c>) and
/// https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency (<c>Idempotency-Key</c>, which makes the
/// standard retries safe). Errors: 401 <c>Couldn't authenticate you</c>, 422 <c>RecordInvalid</c> with <c>details</c>, 429 with
/// <c>Retry-After</c>.
/// </remarks>
internal sealed partial class ZendeskCreateTicketTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<ZendeskCreateTicketOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<ZendeskCreateTicketTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "zendesk_create_ticket";

    private const string Vendor = "Zendesk";

    private static readonly string[] Priorities = ["urgent", "high", "normal", "low"];
    private static readonly string[] Types = ["problem", "incident", "question", "task"];

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "subject":{"type":"string","description":"The ticket's subject."},
          "body":{"type":"string","description":"The ticket's first comment (its description), plain text."},
          "priority":{"type":"string","enum":["urgent","high","normal","low"],"description":"Optional priority."},
          "type":{"type":"string","enum":["problem","incident","question","task"],"description":"Optional ticket type."},
          "tags":{"type":"array","items":{"type":"string"},"description":"Optional tags."},
          "requester_email":{"type":"string","description":"Optional: the email of the person the ticket is for (a new user is created if unknown)."},
          "requester_name":{"type":"string","description":"Optional: that person's name."}},
         "required":["subject","body"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Create a support ticket in the operator's Zendesk. Returns the ticket's id, status and URL.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable => options.CurrentValue.Enabled && Resolve(options.CurrentValue) is not null;

    /// <inheritdoc/>
    /// <remarks>Zendesk's API has no per-call price: 0 unless <c>PriceUsd</c> is set.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, 0);

    /// <summary>The bare subdomain of <paramref name="value"/> (<c>acme</c> or <c>acme.zendesk.com</c>), or null when it is not one.</summary>
    internal static string? Label(string value)
    {
        string label = value.Trim();
        if (label.EndsWith(".zendesk.com", StringComparison.OrdinalIgnoreCase))
        {
            label = label[..^".zendesk.com".Length];
        }

        return LabelPattern().IsMatch(label) ? label.ToLowerInvariant() : null;
    }

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex LabelPattern();

    /// <summary>The base URL, agent email and token, or null when one is missing.</summary>
    private (Uri BaseUri, string? Subdomain, string Email, string Token)? Resolve(ZendeskCreateTicketOptions settings)
    {
        string? token = VendorHttp.Key(settings.ApiKey, configuration, "ZENDESK_API_TOKEN");
        string? email = VendorHttp.Key(settings.Email, configuration, "ZENDESK_EMAIL");
        string? subdomain = VendorHttp.Key(settings.Subdomain, configuration, "ZENDESK_SUBDOMAIN") is { } raw ? Label(raw) : null;
        if (token is null || email is null)
        {
            return null;
        }

        if (!string.IsNullOrWhiteSpace(settings.BaseUrl))
        {
            return (VendorHttp.BaseUri(settings.BaseUrl, ""), subdomain, email, token);
        }

        return subdomain is null ? null : (new Uri($"https://{subdomain}.zendesk.com/"), subdomain, email, token);
    }

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || Resolve(settings) is not { } account)
        {
            return BuiltinToolResult.Error(ToolName + " is not configured on this gateway.");
        }

        string? subject = call.String("subject");
        string? body = call.String("body");
        if (string.IsNullOrWhiteSpace(subject) || string.IsNullOrWhiteSpace(body))
        {
            return BuiltinToolResult.Error("Give \"subject\" and \"body\": the ticket's subject and its description.");
        }

        string? priority = call.String("priority")?.Trim().ToLowerInvariant();
        string? type = call.String("type")?.Trim().ToLowerInvariant();
        if ((call.Get("priority").ValueKind != JsonValueKind.Undefined && !Priorities.Contains(priority))
            || (call.Get("type").ValueKind != JsonValueKind.Undefined && !Types.Contains(type)))
        {
            return BuiltinToolResult.Error("\"priority\" must be urgent, high, normal or low; \"type\" must be problem, incident, question or task.");
        }

        var tags = call.Get("tags").ValueKind == JsonValueKind.Undefined ? [] : VendorHttp.Strings(call.Get("tags"));
        if (tags is null)
        {
            return BuiltinToolResult.Error("\"tags\" must be an array of strings.");
        }

        string? requesterEmail = call.String("requester_email")?.Trim();
        string? requesterName = call.String("requester_name")?.Trim();
        if (requesterEmail is not null && !requesterEmail.Contains('@', StringComparison.Ordinal))
        {
            return BuiltinToolResult.Error("\"requester_email\" must be an email address.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(account.BaseUri, "api/v2/tickets.json"))
        {
            Content = VendorHttp.JsonContent(writer =>
            {
                writer.WriteStartObject();
                writer.WriteStartObject("ticket");
                writer.WriteString("subject", subject);
                writer.WriteStartObject("comment");
                writer.WriteString("body", body);
                writer.WriteEndObject();
                writer.WriteOptional("priority", priority);
                writer.WriteOptional("type", type);
                if (tags.Count > 0)
                {
                    writer.WriteStartArray("tags");
                    foreach (string tag in tags)
                    {
                        writer.WriteStringValue(tag);
                    }

                    writer.WriteEndArray();
                }

                if (!string.IsNullOrEmpty(requesterEmail))
                {
                    writer.WriteStartObject("requester");
                    writer.WriteOptional("name", string.IsNullOrEmpty(requesterName) ? null : requesterName);
                    writer.WriteString("email", requesterEmail);
                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{account.Email}/token:{account.Token}")));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.TryAddWithoutValidation("Idempotency-Key", VendorHttp.IdempotencyKey(ToolName, call));
        var client = httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName));
        var reply = await VendorHttp.SendAsync(client, request, settings.TimeoutSeconds, Vendor, cancellationToken).ConfigureAwait(false);
        if (reply.Failure is { } failure)
        {
            VendorHttp.LogFailed(logger, ToolName, 0);
            return BuiltinToolResult.Error(failure);
        }

        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            string? detail = ErrorDetail(reply.Body);
            return reply.Status == 422
                ? BuiltinToolResult.Error($"Zendesk rejected the ticket (HTTP 422){VendorHttp.Quote(detail)}.")
                : VendorHttp.StatusError(Vendor, reply, detail, timeProvider);
        }

        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            if (!document.RootElement.TryGetProperty("ticket", out var ticket) || !ticket.TryGetProperty("id", out var id) || !id.TryGetInt64(out long ticketId))
            {
                return BuiltinToolResult.Error("Zendesk answered without a ticket; check before retrying.");
            }

            return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteNumber("id", ticketId);
                writer.WriteOptional("status", Text(ticket, "status"));
                writer.WriteOptional("url", account.Subdomain is { } sub ? $"https://{sub}.zendesk.com/agent/tickets/{ticketId}" : Text(ticket, "url"));
                writer.WriteEndObject();
            }));
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("Zendesk answered with something that is not JSON; check before retrying.");
        }
    }

    /// <summary>Zendesk's error text: <c>error</c> (a string, or an object with <c>title</c>/<c>message</c>), <c>description</c>,
    /// and the descriptions in <c>details</c>.</summary>
    private static string? ErrorDetail(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var text = new StringBuilder();
            if (root.TryGetProperty("error", out var error))
            {
                text.Append(error.ValueKind == JsonValueKind.String ? error.GetString() : Text(error, "message") ?? Text(error, "title"));
            }

            if (Text(root, "description") is { } description)
            {
                text.Append(text.Length > 0 ? ": " : "").Append(description);
            }

            if (root.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in details.EnumerateObject())
                {
                    if (field.Value.ValueKind != JsonValueKind.Array)
                    {
                        continue;
                    }

                    foreach (var item in field.Value.EnumerateArray())
                    {
                        if (Text(item, "description") is { } d)
                        {
                            text.Append("; ").Append(field.Name).Append(": ").Append(d);
                        }
                    }
                }
            }

            return text.Length == 0 ? null : text.ToString();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement element, string name) => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
