using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>
/// The control endpoints of a fake provider process (<c>--control</c>), for tests written in other languages:
/// <c>POST /_fake/script</c> adds a <see cref="FakeScript"/> rule, <c>GET /_fake/requests</c> lists the recorded
/// requests, <c>DELETE /_fake/requests</c> forgets them and every rule.
/// </summary>
/// <remarks>
/// A rule is <c>{"match":"marker","replies":[reply, …]}</c>; a reply is
/// <c>{"text":…,"reasoning":…,"tool_calls":[{"name":…,"arguments":{…},"id":…}],"usage":{"input_tokens":…,
/// "output_tokens":…,"cached_tokens":…,"cache_creation_tokens":…,"reasoning_tokens":…},"chunk_size":…}</c> or
/// <c>{"error":{"status":529}}</c>. A malformed rule is answered 400 with <c>{"error":{"message":…}}</c>.
/// </remarks>
internal static class FakeControl
{
    public const string PathPrefix = "/_fake/";

    public static async Task HandleAsync(HttpContext http, FakeProviderServer server, ReadOnlyMemory<byte> body)
    {
        var request = http.Request;
        switch (request.Path.Value)
        {
            case "/_fake/script" when HttpMethods.IsPost(request.Method):
                string? problem;
                int added = 0;
                try
                {
                    (problem, added) = AddRule(server.Script, body);
                }
                catch (JsonException ex)
                {
                    problem = $"The body is not valid JSON: {ex.Message}";
                }

                await WriteAsync(http, problem is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest, w =>
                {
                    w.WriteStartObject();
                    if (problem is null)
                    {
                        w.WriteNumber("queued", added);
                        w.WriteNumber("pending", server.Script.Pending);
                    }
                    else
                    {
                        w.WriteStartObject("error");
                        w.WriteString("message", problem);
                        w.WriteEndObject();
                    }

                    w.WriteEndObject();
                });
                break;
            case "/_fake/requests" when HttpMethods.IsGet(request.Method):
                var requests = server.Requests;
                await WriteAsync(http, StatusCodes.Status200OK, w => WriteRequests(w, requests));
                break;
            case "/_fake/requests" when HttpMethods.IsDelete(request.Method):
                server.ClearRequests();
                server.Script.Clear();
                http.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
            default:
                await WriteAsync(http, StatusCodes.Status404NotFound, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartObject("error");
                    w.WriteString("message", $"No control endpoint {request.Method} {request.Path}.");
                    w.WriteEndObject();
                    w.WriteEndObject();
                });
                break;
        }
    }

    /// <summary>Parses and adds one rule; returns the problem when the rule is malformed (nothing is added then).</summary>
    internal static (string? Problem, int Added) AddRule(FakeScript script, ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return ("The rule must be a JSON object.", 0);
        }

        var match = "";
        if (root.TryGetProperty("match", out var matchElement))
        {
            if (matchElement.ValueKind != JsonValueKind.String)
            {
                return ("match must be a string.", 0);
            }

            match = matchElement.GetString()!;
        }

        if (!root.TryGetProperty("replies", out var repliesElement) || repliesElement.ValueKind != JsonValueKind.Array || repliesElement.GetArrayLength() == 0)
        {
            return ("replies must be a non-empty array.", 0);
        }

        var replies = new List<FakeReply>();
        var index = 0;
        foreach (var element in repliesElement.EnumerateArray())
        {
            var (reply, problem) = ParseReply(element);
            if (reply is null)
            {
                return ($"replies[{index}]: {problem}", 0);
            }

            replies.Add(reply);
            index++;
        }

        script.Add(match, replies);
        return (null, replies.Count);
    }

    private static (FakeReply? Reply, string? Problem) ParseReply(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return (null, "a reply must be an object.");
        }

        if (element.TryGetProperty("error", out var error))
        {
            return error.ValueKind == JsonValueKind.Object && error.TryGetProperty("status", out var status)
                && status.TryGetInt32(out var code) && code is >= 400 and <= 599
                ? (FakeReply.Error(code), null)
                : (null, "error.status must be a number from 400 to 599.");
        }

        string? text = null, reasoning = null;
        if (element.TryGetProperty("text", out var textElement))
        {
            if (textElement.ValueKind != JsonValueKind.String)
            {
                return (null, "text must be a string.");
            }

            text = textElement.GetString();
        }

        if (element.TryGetProperty("reasoning", out var reasoningElement))
        {
            if (reasoningElement.ValueKind != JsonValueKind.String)
            {
                return (null, "reasoning must be a string.");
            }

            reasoning = reasoningElement.GetString();
        }

        var calls = new List<FakeToolCall>();
        if (element.TryGetProperty("tool_calls", out var callsElement))
        {
            if (callsElement.ValueKind != JsonValueKind.Array)
            {
                return (null, "tool_calls must be an array.");
            }

            foreach (var call in callsElement.EnumerateArray())
            {
                if (call.ValueKind != JsonValueKind.Object
                    || !call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(name.GetString())
                    || (call.TryGetProperty("arguments", out var arguments) && arguments.ValueKind != JsonValueKind.Object))
                {
                    return (null, "each tool call needs a name and an arguments object.");
                }

                var argumentsJson = call.TryGetProperty("arguments", out var args) ? args.GetRawText() : "{}";
                var id = call.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
                calls.Add(new FakeToolCall(name.GetString()!, argumentsJson, id));
            }
        }

        if (text is null && reasoning is null && calls.Count == 0)
        {
            return (null, "a reply needs text, reasoning, tool_calls or error.");
        }

        var reply = calls.Count > 0
            ? FakeReply.ToolCall([.. calls]) with { Content = text, Reasoning = reasoning }
            : reasoning is not null ? FakeReply.TextWithReasoning(reasoning, text ?? "") : FakeReply.Text(text!);

        if (element.TryGetProperty("usage", out var usage))
        {
            if (usage.ValueKind != JsonValueKind.Object)
            {
                return (null, "usage must be an object.");
            }

            reply = reply with
            {
                Usage = new FakeUsage
                {
                    InputTokens = Int(usage, "input_tokens"),
                    OutputTokens = Int(usage, "output_tokens"),
                    CachedTokens = Int(usage, "cached_tokens"),
                    CacheCreationTokens = Int(usage, "cache_creation_tokens"),
                    ReasoningTokens = Int(usage, "reasoning_tokens"),
                },
            };
        }

        if (Int(element, "chunk_size") is { } chunkSize)
        {
            if (chunkSize < 1)
            {
                return (null, "chunk_size must be at least 1.");
            }

            reply = reply with { ChunkSize = chunkSize };
        }

        return (reply, null);
    }

    private static int? Int(JsonElement parent, string name)
        => parent.TryGetProperty(name, out var value) && value.TryGetInt32(out var number) ? number : null;

    private static void WriteRequests(Utf8JsonWriter w, IReadOnlyList<RecordedRequest> requests)
    {
        w.WriteStartArray();
        foreach (var request in requests)
        {
            w.WriteStartObject();
            w.WriteString("method", request.Method);
            w.WriteString("path", request.Path);
            w.WriteString("model", request.Model);
            w.WriteBoolean("stream", request.Stream);
            w.WriteStartObject("headers");
            foreach (var (name, value) in request.Headers)
            {
                w.WriteString(name.ToLowerInvariant(), value);
            }

            w.WriteEndObject();
            w.WritePropertyName("body");
            if (request.BodyJson is { } json)
            {
                json.WriteTo(w);
            }
            else
            {
                w.WriteStringValue(request.BodyText);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static async Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> write)
    {
        using var buffer = new PooledBufferWriter(1024);
        using (var w = new Utf8JsonWriter(buffer, FakeHttp.WriterOptions))
        {
            write(w);
        }

        await FakeHttp.WriteJsonAsync(http, status, buffer.WrittenSpan.ToArray(), http.RequestAborted);
    }
}
