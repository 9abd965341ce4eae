using System.Buffers;
using System.Text.Json;

namespace Qlaud.Benchmarks.Payloads;

/// <summary>OpenAI Chat Completions wire payloads shaped like what the official SDKs and api.openai.com send.</summary>
/// <remarks>
/// Generated rather than stored so the sizes are exact parameters; the shapes (field order, <c>usage: null</c> on every
/// chunk when usage was requested, <c>system_fingerprint</c>, <c>service_tier</c>) follow recorded gpt-4o-mini traffic.
/// </remarks>
internal static class OpenAIPayloads
{
    public const string Model = "gpt-4o-mini";
    public const string UpstreamModel = "gpt-4o-mini-2024-07-18";

    /// <summary>
    /// A plain chat body of at least <paramref name="targetBytes"/> bytes: <c>messages</c> first and <c>model</c> after
    /// them (the order the OpenAI Python and .NET SDKs write), so a scanner must skip the whole conversation to find it.
    /// </summary>
    public static byte[] ChatBody(int targetBytes, bool stream)
    {
        var random = new Random(targetBytes);
        var buffer = new ArrayBufferWriter<byte>(targetBytes + 1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("messages");
            Message(w, "system", Prose.Text(random, 400));
            long approx = 600;
            bool user = true;
            while (approx < targetBytes - 300)
            {
                int length = (int)Math.Min(targetBytes - 300 - approx, user ? 600 : 1800);
                length = Math.Max(length, 40);
                string text = Prose.Text(random, length);
                Message(w, user ? "user" : "assistant", text);
                approx += text.Length + 40;
                user = !user;
            }

            if (!user)
            {
                Message(w, "assistant", Prose.Text(random, 60));
            }

            Message(w, "user", "And what should we do next?");
            w.WriteEndArray();
            w.WriteString("model", Model);
            w.WriteBoolean("stream", stream);
            w.WriteNumber("temperature", 0.7);
            w.WriteNumber("max_completion_tokens", 1024);
            w.WriteString("user", "end-user-42");
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A request using most of the API: multi-part content, image, parallel tool calls and results, three tools, sampling options, an unknown field.</summary>
    public static byte[] RichRequest()
    {
        var random = new Random(7);
        var buffer = new ArrayBufferWriter<byte>(8192);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("messages");
            Message(w, "developer", Prose.Text(random, 600));

            w.WriteStartObject();
            w.WriteString("role", "user");
            w.WriteStartArray("content");
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", "Where are orders 1042 and 1043, and what does this label say?");
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("type", "image_url");
            w.WriteStartObject("image_url");
            w.WriteString("url", "https://cdn.example.com/labels/1042.png");
            w.WriteString("detail", "low");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();

            w.WriteStartObject();
            w.WriteString("role", "assistant");
            w.WriteNull("content");
            w.WriteStartArray("tool_calls");
            ToolCall(w, "call_8fQn2kVw1", "get_order_status", """{"order_id":"1042","include_history":true}""");
            ToolCall(w, "call_Jx03mPq7Z", "get_order_status", """{"order_id":"1043","include_history":true}""");
            w.WriteEndArray();
            w.WriteEndObject();

            ToolResult(w, "call_8fQn2kVw1", """{"status":"in_transit","carrier":"DHL","eta":"2026-11-25","history":[{"at":"2026-11-21T08:12:00Z","event":"picked_up"},{"at":"2026-11-22T03:40:00Z","event":"hub_scan","location":"Leipzig"}]}""");
            ToolResult(w, "call_Jx03mPq7Z", """{"status":"delivered","carrier":"UPS","delivered_at":"2026-11-20T15:02:00Z","signed_by":"M. ROSSI"}""");
            Message(w, "assistant", Prose.Text(random, 300));
            Message(w, "user", Prose.Text(random, 200));
            w.WriteEndArray();

            w.WriteString("model", Model);
            w.WriteStartArray("tools");
            Tool(w, "get_order_status", "Looks up the shipping status of an order.", static w =>
            {
                Property(w, "order_id", "string", "The order number.");
                Property(w, "include_history", "boolean", "Whether to include scan events.");
            }, ["order_id"]);
            Tool(w, "search_knowledge_base", "Full-text search over help-centre articles.", static w =>
            {
                Property(w, "query", "string", "What to search for.");
                Property(w, "locale", "string", "BCP 47 language tag.");
                Property(w, "limit", "integer", "At most this many results.");
            }, ["query"]);
            Tool(w, "create_refund", "Creates a refund for part or all of an order.", static w =>
            {
                Property(w, "order_id", "string", "The order number.");
                Property(w, "amount_cents", "integer", "Amount in cents.");
                w.WriteStartObject("reason");
                w.WriteString("type", "string");
                w.WriteStartArray("enum");
                w.WriteStringValue("damaged");
                w.WriteStringValue("late");
                w.WriteStringValue("wrong_item");
                w.WriteEndArray();
                w.WriteEndObject();
            }, ["order_id", "amount_cents", "reason"]);
            w.WriteEndArray();
            w.WriteString("tool_choice", "auto");
            w.WriteBoolean("parallel_tool_calls", true);
            w.WriteNumber("temperature", 0.2);
            w.WriteNumber("top_p", 0.9);
            w.WriteNumber("max_completion_tokens", 2048);
            w.WriteNumber("seed", 1234);
            w.WriteStartArray("stop");
            w.WriteStringValue("</answer>");
            w.WriteEndArray();
            w.WriteBoolean("stream", true);
            w.WriteStartObject("stream_options");
            w.WriteBoolean("include_usage", true);
            w.WriteEndObject();
            w.WriteString("user", "end-user-42");
            w.WriteStartObject("metadata");
            w.WriteString("tenant", "acme");
            w.WriteString("ticket", "T-99812");
            w.WriteEndObject();
            w.WriteString("service_tier", "auto");
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A non-streamed <c>chat.completion</c> with text, two tool calls and detailed usage.</summary>
    public static byte[] Response()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-AX3kR9mZp0oQ1tVw7sYb2cDe4fGh");
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", 1763800000);
            w.WriteString("model", UpstreamModel);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", Prose.Text(new Random(11), 900));
            w.WriteNull("refusal");
            w.WriteStartArray("tool_calls");
            ToolCall(w, "call_Q1w2E3r4T5", "search_knowledge_base", """{"query":"refund policy for late deliveries","locale":"en-GB","limit":5}""");
            ToolCall(w, "call_Y6u7I8o9P0", "create_refund", """{"order_id":"1042","amount_cents":1299,"reason":"late"}""");
            w.WriteEndArray();
            w.WriteStartArray("annotations");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", "tool_calls");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", 1832);
            w.WriteNumber("completion_tokens", 311);
            w.WriteNumber("total_tokens", 2143);
            w.WriteStartObject("prompt_tokens_details");
            w.WriteNumber("cached_tokens", 1024);
            w.WriteNumber("audio_tokens", 0);
            w.WriteEndObject();
            w.WriteStartObject("completion_tokens_details");
            w.WriteNumber("reasoning_tokens", 0);
            w.WriteNumber("audio_tokens", 0);
            w.WriteNumber("accepted_prediction_tokens", 0);
            w.WriteNumber("rejected_prediction_tokens", 0);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteString("service_tier", "default");
            w.WriteString("system_fingerprint", "fp_b8bc95a0ac");
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A streamed answer of exactly <paramref name="chunks"/> <c>chat.completion.chunk</c> events (role, text deltas, finish,
    /// usage) and <c>data: [DONE]</c>, as OpenAI sends it with <c>stream_options.include_usage</c>.
    /// </summary>
    /// <param name="chunks">Total chunk events, at least 4.</param>
    /// <param name="eventEnds">Receives the offset just past each event's blank line, <c>[DONE]</c> included.</param>
    /// <param name="usageNullPerChunk">Whether every chunk but the last carries <c>"usage":null</c>, as OpenAI writes them
    /// when the request had <c>stream_options.include_usage</c> (which Qlaud always sets); most other hosts omit it.</param>
    public static byte[] Stream(int chunks, List<int> eventEnds, bool usageNullPerChunk = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunks, 4);
        var tokens = Prose.Tokens(new Random(chunks), chunks - 3);
        var buffer = new ArrayBufferWriter<byte>(chunks * 260);
        var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

        Chunk(buffer, w, eventEnds, static w =>
        {
            w.WriteStartObject();
            w.WriteString("role", "assistant");
            w.WriteString("content", "");
            w.WriteNull("refusal");
            w.WriteEndObject();
        }, finish: null, usageNullPerChunk);
        foreach (var token in tokens)
        {
            Chunk(buffer, w, eventEnds, w =>
            {
                w.WriteStartObject();
                w.WriteString("content", token);
                w.WriteEndObject();
            }, finish: null, usageNullPerChunk);
        }

        Chunk(buffer, w, eventEnds, static w =>
        {
            w.WriteStartObject();
            w.WriteEndObject();
        }, finish: "stop", usageNullPerChunk);

        // The usage chunk: empty choices, usage filled in.
        buffer.Write("data: "u8);
        w.Reset(buffer);
        ChunkHeader(w);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", 1832);
        w.WriteNumber("completion_tokens", chunks - 3);
        w.WriteNumber("total_tokens", 1832 + chunks - 3);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", 1024);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", 0);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        buffer.Write("\n\n"u8);
        eventEnds.Add(buffer.WrittenCount);

        buffer.Write("data: [DONE]\n\n"u8);
        eventEnds.Add(buffer.WrittenCount);
        w.Dispose();
        return buffer.WrittenSpan.ToArray();
    }

    private static void Chunk(ArrayBufferWriter<byte> buffer, Utf8JsonWriter w, List<int> eventEnds, Action<Utf8JsonWriter> delta, string? finish, bool usageNull)
    {
        buffer.Write("data: "u8);
        w.Reset(buffer);
        ChunkHeader(w);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WritePropertyName("delta");
        delta(w);
        w.WriteNull("logprobs");
        if (finish is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finish);
        }

        w.WriteEndObject();
        w.WriteEndArray();
        if (usageNull)
        {
            w.WriteNull("usage");
        }

        w.WriteEndObject();
        w.Flush();
        buffer.Write("\n\n"u8);
        eventEnds.Add(buffer.WrittenCount);
    }

    private static void ChunkHeader(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", "chatcmpl-AX3kR9mZp0oQ1tVw7sYb2cDe4fGh");
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", 1763800000);
        w.WriteString("model", UpstreamModel);
        w.WriteString("service_tier", "default");
        w.WriteString("system_fingerprint", "fp_b8bc95a0ac");
    }

    private static void Message(Utf8JsonWriter w, string role, string content)
    {
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void ToolCall(Utf8JsonWriter w, string id, string name, string arguments)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", name);
        w.WriteString("arguments", arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void ToolResult(Utf8JsonWriter w, string callId, string content)
    {
        w.WriteStartObject();
        w.WriteString("role", "tool");
        w.WriteString("tool_call_id", callId);
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void Tool(Utf8JsonWriter w, string name, string description, Action<Utf8JsonWriter> properties, string[] required)
    {
        w.WriteStartObject();
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", name);
        w.WriteString("description", description);
        w.WriteStartObject("parameters");
        w.WriteString("type", "object");
        w.WriteStartObject("properties");
        properties(w);
        w.WriteEndObject();
        w.WriteStartArray("required");
        foreach (var r in required)
        {
            w.WriteStringValue(r);
        }

        w.WriteEndArray();
        w.WriteBoolean("additionalProperties", false);
        w.WriteEndObject();
        w.WriteBoolean("strict", true);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Property(Utf8JsonWriter w, string name, string type, string description)
    {
        w.WriteStartObject(name);
        w.WriteString("type", type);
        w.WriteString("description", description);
        w.WriteEndObject();
    }
}
