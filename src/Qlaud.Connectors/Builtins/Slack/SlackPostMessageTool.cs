using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.Slack;

/// <summary><c>slack_post_message</c>: posts a message with Slack's Web API method <c>chat.postMessage</c> and the operator's bot token.</summary>
/// <remarks>
/// API reference: https://api.slack.com/methods/chat.postMessage (JSON body, <c>Authorization: Bearer xoxb-…</c>). Slack answers
/// most errors with HTTP 200 and <c>{"ok":false,"error":"…"}</c>; those are error results, as are HTTP 429 (with its
/// <c>Retry-After</c>) and 5xx. Posting is not idempotent, so only 429s are retried.
/// </remarks>
internal sealed class SlackPostMessageTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<SlackPostMessageOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<SlackPostMessageTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "slack_post_message";

    /// <summary>The environment variable read when no key is configured.</summary>
    public const string KeyVariable = "SLACK_BOT_TOKEN";

    /// <summary>The Web API's published base URL.</summary>
    public const string DefaultBaseUrl = "https://slack.com/api/";

    private const string Vendor = "Slack";

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "channel":{"type":"string","description":"The channel ID (for example C0123456789) or name (#general). Optional when the operator configured a default channel."},
          "text":{"type":"string","description":"The message, in Slack mrkdwn (*bold*, _italic_, <https://example.com|links>)."},
          "thread_ts":{"type":"string","description":"Optional: the ts of a message to reply to in its thread."}},
         "required":["text"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Post a message to a Slack channel of the operator's workspace (as the operator's Slack bot). Returns the channel and the message ts.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable => options.CurrentValue.Enabled && Key is not null;

    /// <inheritdoc/>
    /// <remarks>Slack's Web API has no per-call price: 0 unless <c>PriceUsd</c> is set.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, 0);

    private string? Key => VendorHttp.Key(options.CurrentValue.ApiKey, configuration, KeyVariable);

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        string? key = Key;
        if (!settings.Enabled || key is null)
        {
            return BuiltinToolResult.Error("slack_post_message is not configured on this gateway.");
        }

        string? channel = call.String("channel") is { } named && !string.IsNullOrWhiteSpace(named) ? named.Trim() : settings.DefaultChannel;
        string? text = call.String("text");
        if (string.IsNullOrWhiteSpace(channel))
        {
            return BuiltinToolResult.Error("Give \"channel\": a Slack channel ID (such as C0123456789) or name.");
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return BuiltinToolResult.Error("Give \"text\": the message to post.");
        }

        string? threadTs = call.String("thread_ts");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(VendorHttp.BaseUri(settings.BaseUrl, DefaultBaseUrl), "chat.postMessage"))
        {
            Content = VendorHttp.JsonContent(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("channel", channel);
                writer.WriteString("text", text);
                writer.WriteOptional("thread_ts", string.IsNullOrWhiteSpace(threadTs) ? null : threadTs);
                writer.WriteEndObject();
            }, "application/json; charset=utf-8"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var client = httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName));
        var reply = await VendorHttp.SendAsync(client, request, settings.TimeoutSeconds, Vendor, cancellationToken).ConfigureAwait(false);
        if (reply.Failure is { } failure)
        {
            VendorHttp.LogFailed(logger, ToolName, 0);
            return BuiltinToolResult.Error(failure);
        }

        string? error = VendorHttp.JsonString(reply.Body, "error");
        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            return VendorHttp.StatusError(Vendor, reply, error, timeProvider);
        }

        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("ok", out var ok) || ok.ValueKind != JsonValueKind.True)
            {
                VendorHttp.LogRefused(logger, ToolName, error ?? "unknown");
                return SlackError(error, channel);
            }

            string? postedChannel = root.TryGetProperty("channel", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : channel;
            string? ts = root.TryGetProperty("ts", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteBoolean("ok", true);
                writer.WriteOptional("channel", postedChannel);
                writer.WriteOptional("ts", ts);
                writer.WriteEndObject();
            }));
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("Slack answered with something that is not JSON; try again later.");
        }
    }

    /// <summary>The error result for Slack's <c>{"ok":false,"error":code}</c>.</summary>
    private static BuiltinToolResult SlackError(string? code, string channel) => code switch
    {
        "invalid_auth" or "not_authed" or "account_inactive" or "token_revoked" or "token_expired" or "not_allowed_token_type"
            => BuiltinToolResult.Error($"The operator's Slack key was refused ({code}). This tool cannot be used until the operator fixes it."),
        "missing_scope" or "no_permission" or "ekm_access_denied" or "restricted_action"
            => BuiltinToolResult.Error($"The operator's Slack bot may not post there ({code})."),
        "channel_not_found" => BuiltinToolResult.Error($"Slack has no channel \"{channel}\" that the bot can see (channel_not_found); use a channel ID such as C0123456789, or ask for the bot to be invited."),
        "not_in_channel" => BuiltinToolResult.Error($"The bot is not a member of \"{channel}\" (not_in_channel); ask for it to be invited, or use another channel."),
        "is_archived" => BuiltinToolResult.Error($"The channel \"{channel}\" is archived (is_archived)."),
        "msg_too_long" => BuiltinToolResult.Error("The message is too long for Slack (msg_too_long); shorten it."),
        "no_text" => BuiltinToolResult.Error("Slack found no text to post (no_text)."),
        "ratelimited" or "rate_limited" => VendorHttp.RateLimited(Vendor, null),
        null => BuiltinToolResult.Error("Slack refused the message without saying why."),
        _ => BuiltinToolResult.Error($"Slack refused the message ({code})."),
    };
}
