using System.Text.Json;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>Slack's Web API method <c>chat.postMessage</c> as documented (https://api.slack.com/methods/chat.postMessage): a
/// bot token in <c>Authorization: Bearer</c>, a JSON body with <c>Content-Type: application/json; charset=utf-8</c>, and errors as
/// HTTP 200 with <c>{"ok":false,"error":"…"}</c>.</summary>
public static class FakeSlack
{
    public const string Token = "xoxb-test-bot-token";

    /// <summary>Channels the bot can post to; anything else is <c>channel_not_found</c>.</summary>
    public static readonly string[] Channels = ["C0123456789", "#general"];

    public static VendorResponse Behaviour(VendorRequest request)
    {
        if (request.Method != "POST" || request.Path != "/api/chat.postMessage")
        {
            return VendorResponse.Json(404, """{"ok":false,"error":"unknown_method"}""");
        }

        if (request.Header("Authorization") != "Bearer " + Token)
        {
            return VendorResponse.Json(200, """{"ok":false,"error":"invalid_auth"}""");
        }

        if (request.Header("Content-Type") != "application/json; charset=utf-8")
        {
            return VendorResponse.Json(200, """{"ok":false,"error":"invalid_form_data"}""");
        }

        var body = request.Json();
        string? channel = body.TryGetProperty("channel", out var c) ? c.GetString() : null;
        if (channel is null || !Channels.Contains(channel))
        {
            return VendorResponse.Json(200, """{"ok":false,"error":"channel_not_found"}""");
        }

        if (!body.TryGetProperty("text", out var text) || string.IsNullOrEmpty(text.GetString()))
        {
            return VendorResponse.Json(200, """{"ok":false,"error":"no_text"}""");
        }

        string id = channel.StartsWith('#') ? "C0000000001" : channel;
        string answer = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["ok"] = true,
            ["channel"] = id,
            ["ts"] = "1503435956.000247",
            ["message"] = new Dictionary<string, object> { ["text"] = text.GetString()!, ["type"] = "message", ["subtype"] = "bot_message", ["ts"] = "1503435956.000247", ["bot_id"] = "B123ABC456" },
        });
        return VendorResponse.Json(200, answer);
    }
}
