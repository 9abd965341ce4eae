using System.Globalization;
using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>
/// Writes Anthropic Messages responses: the <c>message</c> object, the named-event stream
/// (<c>message_start</c>, content blocks, <c>ping</c>, <c>message_delta</c>, <c>message_stop</c>),
/// the <c>{"type":"error","error":{…}}</c> envelope, token counts and the model list.
/// </summary>
internal static class AnthropicWire
{
    public const string IdPrefix = "msg_";
    public const string ToolUseIdPrefix = "toolu_";

    /// <summary>Stands in for the opaque thinking signature (base64 of "qlaud-fake-thinking-signature").</summary>
    public const string DefaultSignature = "cWxhdWQtZmFrZS10aGlua2luZy1zaWduYXR1cmU=";

    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText s_id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText s_role = JsonEncodedText.Encode("role");
    private static readonly JsonEncodedText s_assistant = JsonEncodedText.Encode("assistant");
    private static readonly JsonEncodedText s_model = JsonEncodedText.Encode("model");
    private static readonly JsonEncodedText s_content = JsonEncodedText.Encode("content");
    private static readonly JsonEncodedText s_message = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText s_text = JsonEncodedText.Encode("text");
    private static readonly JsonEncodedText s_thinking = JsonEncodedText.Encode("thinking");
    private static readonly JsonEncodedText s_signature = JsonEncodedText.Encode("signature");
    private static readonly JsonEncodedText s_toolUse = JsonEncodedText.Encode("tool_use");
    private static readonly JsonEncodedText s_name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText s_input = JsonEncodedText.Encode("input");
    private static readonly JsonEncodedText s_caller = JsonEncodedText.Encode("caller");
    private static readonly JsonEncodedText s_direct = JsonEncodedText.Encode("direct");
    private static readonly JsonEncodedText s_stopReason = JsonEncodedText.Encode("stop_reason");
    private static readonly JsonEncodedText s_stopSequence = JsonEncodedText.Encode("stop_sequence");
    private static readonly JsonEncodedText s_usage = JsonEncodedText.Encode("usage");
    private static readonly JsonEncodedText s_inputTokens = JsonEncodedText.Encode("input_tokens");
    private static readonly JsonEncodedText s_outputTokens = JsonEncodedText.Encode("output_tokens");
    private static readonly JsonEncodedText s_cacheCreationInputTokens = JsonEncodedText.Encode("cache_creation_input_tokens");
    private static readonly JsonEncodedText s_cacheReadInputTokens = JsonEncodedText.Encode("cache_read_input_tokens");
    private static readonly JsonEncodedText s_cacheCreation = JsonEncodedText.Encode("cache_creation");
    private static readonly JsonEncodedText s_ephemeral5m = JsonEncodedText.Encode("ephemeral_5m_input_tokens");
    private static readonly JsonEncodedText s_ephemeral1h = JsonEncodedText.Encode("ephemeral_1h_input_tokens");
    private static readonly JsonEncodedText s_serviceTier = JsonEncodedText.Encode("service_tier");
    private static readonly JsonEncodedText s_standard = JsonEncodedText.Encode("standard");
    private static readonly JsonEncodedText s_index = JsonEncodedText.Encode("index");
    private static readonly JsonEncodedText s_delta = JsonEncodedText.Encode("delta");
    private static readonly JsonEncodedText s_contentBlock = JsonEncodedText.Encode("content_block");
    private static readonly JsonEncodedText s_messageStart = JsonEncodedText.Encode("message_start");
    private static readonly JsonEncodedText s_messageDelta = JsonEncodedText.Encode("message_delta");
    private static readonly JsonEncodedText s_contentBlockStart = JsonEncodedText.Encode("content_block_start");
    private static readonly JsonEncodedText s_contentBlockDelta = JsonEncodedText.Encode("content_block_delta");
    private static readonly JsonEncodedText s_contentBlockStop = JsonEncodedText.Encode("content_block_stop");
    private static readonly JsonEncodedText s_textDelta = JsonEncodedText.Encode("text_delta");
    private static readonly JsonEncodedText s_thinkingDelta = JsonEncodedText.Encode("thinking_delta");
    private static readonly JsonEncodedText s_signatureDelta = JsonEncodedText.Encode("signature_delta");
    private static readonly JsonEncodedText s_inputJsonDelta = JsonEncodedText.Encode("input_json_delta");
    private static readonly JsonEncodedText s_partialJson = JsonEncodedText.Encode("partial_json");
    private static readonly JsonEncodedText s_error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText s_data = JsonEncodedText.Encode("data");

    private enum Fragment
    {
        Thinking,
        Text,
        InputJson,
    }

    private static ReadOnlySpan<byte> MessageStartEvent => "event: message_start\ndata: "u8;

    private static ReadOnlySpan<byte> ContentBlockStartEvent => "event: content_block_start\ndata: "u8;

    private static ReadOnlySpan<byte> ContentBlockDeltaEvent => "event: content_block_delta\ndata: "u8;

    private static ReadOnlySpan<byte> ContentBlockStopEvent => "event: content_block_stop\ndata: "u8;

    private static ReadOnlySpan<byte> MessageDeltaEvent => "event: message_delta\ndata: "u8;

    private static ReadOnlySpan<byte> ErrorEvent => "event: error\ndata: "u8;

    private static ReadOnlySpan<byte> PingEvent => "event: ping\ndata: {\"type\":\"ping\"}\n\n"u8;

    private static ReadOnlySpan<byte> MessageStopEvent => "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"u8;

    public static async ValueTask<ReplyOutcome> WriteMessageAsync(ChatExchange x)
    {
        x.Http.Response.ContentType = FakeHttp.JsonContentType;
        var reply = x.Reply;
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_id, FakeIds.Create(IdPrefix, x.Sequence));
        w.WriteString(s_type, s_message);
        w.WriteString(s_role, s_assistant);
        w.WriteString(s_model, x.Model);
        w.WriteStartArray(s_content);
        if (reply.Reasoning is not null)
        {
            w.WriteStartObject();
            w.WriteString(s_type, s_thinking);
            w.WriteString(s_thinking, reply.Reasoning);
            w.WriteString(s_signature, reply.ReasoningSignature ?? DefaultSignature);
            w.WriteEndObject();
        }

        if (reply.Content is not null)
        {
            w.WriteStartObject();
            w.WriteString(s_type, s_text);
            w.WriteString(s_text, reply.Content);
            w.WriteEndObject();
        }

        for (var i = 0; i < reply.ToolCalls.Count; i++)
        {
            var call = reply.ToolCalls[i];
            w.WriteStartObject();
            w.WriteString(s_type, s_toolUse);
            w.WriteString(s_id, x.ToolCallId(i, ToolUseIdPrefix));
            w.WriteString(s_name, call.Name);
            w.WritePropertyName(s_input);
            WriteToolInput(w, call.ArgumentsJson);
            WriteDirectCaller(w);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteStop(w, reply);
        w.WritePropertyName(s_usage);
        WriteUsage(w, x.Usage, x.Usage.Output);
        w.WriteEndObject();
        return await x.FlushAsync() ? ReplyOutcome.Completed : ReplyOutcome.ClientGone;
    }

    public static async ValueTask<ReplyOutcome> StreamMessageAsync(ChatExchange x)
    {
        FakeHttp.SetEventStreamHeaders(x.Http.Response);
        var reply = x.Reply;

        WriteMessageStart(x);
        if (!await x.EndEventAsync())
        {
            return ReplyOutcome.ClientGone;
        }

        var block = 0;
        if (reply.Reasoning is not null)
        {
            if (await StreamBlockAsync(x, block++, Fragment.Thinking, reply.Reasoning, 0) is ReplyOutcome stopped)
            {
                return stopped;
            }
        }

        if (reply.Content is not null)
        {
            if (await StreamBlockAsync(x, block++, Fragment.Text, reply.Content, 0) is ReplyOutcome stopped)
            {
                return stopped;
            }
        }

        for (var i = 0; i < reply.ToolCalls.Count; i++)
        {
            if (await StreamBlockAsync(x, block++, Fragment.InputJson, reply.ToolCalls[i].ArgumentsJson, i) is ReplyOutcome stopped)
            {
                return stopped;
            }
        }

        if (block == 0)
        {
            x.Raw(PingEvent);
            if (x.ShouldCutOff)
            {
                return await CutOffAsync(x);
            }
        }

        WriteMessageDelta(x);
        if (!await x.EndEventAsync())
        {
            return ReplyOutcome.ClientGone;
        }

        x.Raw(MessageStopEvent);
        return await x.FlushAsync() ? ReplyOutcome.Completed : ReplyOutcome.ClientGone;
    }

    /// <summary>Writes an error envelope: <c>{"type":"error","error":{"type","message"}}</c>.</summary>
    public static void WriteError(Utf8JsonWriter w, string type, string message)
    {
        w.WriteStartObject();
        w.WriteString(s_type, s_error);
        w.WriteStartObject(s_error);
        w.WriteString(s_type, type);
        w.WriteString("message"u8, message);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The error <c>type</c> Anthropic documents for a status.</summary>
    public static string ErrorType(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => status >= 500 ? "api_error" : "invalid_request_error",
    };

    /// <summary>Renders <c>{"input_tokens":N}</c>.</summary>
    public static void WriteTokenCount(Utf8JsonWriter w, int inputTokens)
    {
        w.WriteStartObject();
        w.WriteNumber(s_inputTokens, inputTokens);
        w.WriteEndObject();
    }

    /// <summary>Renders the Anthropic <c>GET /v1/models</c> page once.</summary>
    public static byte[] RenderModels(IReadOnlyList<string> models, DateTimeOffset created)
    {
        using var buffer = new PooledBufferWriter(512);
        using (var w = new Utf8JsonWriter(buffer, FakeHttp.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteStartArray(s_data);
            foreach (var model in models)
            {
                w.WriteStartObject();
                w.WriteString(s_type, "model"u8);
                w.WriteString(s_id, model);
                w.WriteString("display_name"u8, model);
                w.WriteString("created_at"u8, created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more"u8, false);
            if (models.Count > 0)
            {
                w.WriteString("first_id"u8, models[0]);
                w.WriteString("last_id"u8, models[^1]);
            }
            else
            {
                w.WriteNull("first_id"u8);
                w.WriteNull("last_id"u8);
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteStop(Utf8JsonWriter w, FakeReply reply)
    {
        var reason = reply.FinishReason ?? (reply.ToolCalls.Count > 0 ? FakeFinishReason.ToolCalls : FakeFinishReason.Stop);
        w.WriteString(s_stopReason, reason switch
        {
            FakeFinishReason.Length => "max_tokens",
            FakeFinishReason.ToolCalls => "tool_use",
            FakeFinishReason.ContentFilter => "refusal",
            FakeFinishReason.StopSequence => "stop_sequence",
            _ => "end_turn",
        });
        if (reason == FakeFinishReason.StopSequence && reply.StopSequence is not null)
        {
            w.WriteString(s_stopSequence, reply.StopSequence);
        }
        else
        {
            w.WriteNull(s_stopSequence);
        }
    }

    private static void WriteUsage(Utf8JsonWriter w, ResolvedUsage usage, int outputTokens)
    {
        w.WriteStartObject();
        w.WriteNumber(s_inputTokens, usage.Input);
        w.WriteNumber(s_cacheCreationInputTokens, usage.CacheCreation);
        w.WriteNumber(s_cacheReadInputTokens, usage.Cached);
        w.WriteStartObject(s_cacheCreation);
        w.WriteNumber(s_ephemeral5m, usage.CacheCreation);
        w.WriteNumber(s_ephemeral1h, 0);
        w.WriteEndObject();
        w.WriteNumber(s_outputTokens, outputTokens);
        w.WriteString(s_serviceTier, s_standard);
        w.WriteEndObject();
    }

    /// <summary>Tool use blocks name who invoked the tool; a plain model turn is always <c>{"type":"direct"}</c>.</summary>
    private static void WriteDirectCaller(Utf8JsonWriter w)
    {
        w.WriteStartObject(s_caller);
        w.WriteString(s_type, s_direct);
        w.WriteEndObject();
    }

    private static void WriteToolInput(Utf8JsonWriter w, string argumentsJson)
    {
        if (string.IsNullOrWhiteSpace(argumentsJson))
        {
            w.WriteStartObject();
            w.WriteEndObject();
        }
        else
        {
            w.WriteRawValue(argumentsJson);
        }
    }

    private static void WriteMessageStart(ChatExchange x)
    {
        x.Raw(MessageStartEvent);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_type, s_messageStart);
        w.WriteStartObject(s_message);
        w.WriteString(s_id, FakeIds.Create(IdPrefix, x.Sequence));
        w.WriteString(s_type, s_message);
        w.WriteString(s_role, s_assistant);
        w.WriteString(s_model, x.Model);
        w.WriteStartArray(s_content);
        w.WriteEndArray();
        w.WriteNull(s_stopReason);
        w.WriteNull(s_stopSequence);
        w.WritePropertyName(s_usage);

        // Like the real API, message_start reports the prompt side and a token or so of output; the final
        // count arrives in message_delta.
        WriteUsage(w, x.Usage, Math.Min(1, x.Usage.Output));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static async ValueTask<ReplyOutcome?> StreamBlockAsync(ChatExchange x, int block, Fragment kind, string text, int toolIndex)
    {
        WriteBlockStart(x, block, kind, toolIndex);
        if (!await x.EndEventAsync())
        {
            return ReplyOutcome.ClientGone;
        }

        if (block == 0)
        {
            x.Raw(PingEvent);
        }

        if (x.ShouldCutOff)
        {
            return await CutOffAsync(x);
        }

        var position = 0;
        while (position < text.Length)
        {
            await x.BeforeDeltaAsync();
            var length = x.NextFragmentLength(text.AsSpan(position));
            WriteBlockDelta(x, block, kind, text.AsSpan(position, length));
            position += length;
            if (!await x.EndEventAsync())
            {
                return ReplyOutcome.ClientGone;
            }

            x.CountDelta();
            if (x.ShouldCutOff)
            {
                return await CutOffAsync(x);
            }
        }

        if (kind == Fragment.Thinking)
        {
            // The signature arrives in one signature_delta just before the thinking block closes.
            WriteSignatureDelta(x, block);
            if (!await x.EndEventAsync())
            {
                return ReplyOutcome.ClientGone;
            }
        }

        WriteBlockStop(x, block);
        return await x.EndEventAsync() ? null : ReplyOutcome.ClientGone;
    }

    private static void WriteBlockStart(ChatExchange x, int block, Fragment kind, int toolIndex)
    {
        x.Raw(ContentBlockStartEvent);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_type, s_contentBlockStart);
        w.WriteNumber(s_index, block);
        w.WriteStartObject(s_contentBlock);
        switch (kind)
        {
            case Fragment.Thinking:
                w.WriteString(s_type, s_thinking);
                w.WriteString(s_thinking, ""u8);
                w.WriteString(s_signature, ""u8);
                break;
            case Fragment.Text:
                w.WriteString(s_type, s_text);
                w.WriteString(s_text, ""u8);
                break;
            default:
                w.WriteString(s_type, s_toolUse);
                w.WriteString(s_id, x.ToolCallId(toolIndex, ToolUseIdPrefix));
                w.WriteString(s_name, x.Reply.ToolCalls[toolIndex].Name);
                w.WriteStartObject(s_input);
                w.WriteEndObject();
                WriteDirectCaller(w);
                break;
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteBlockDelta(ChatExchange x, int block, Fragment kind, ReadOnlySpan<char> fragment)
    {
        x.Raw(ContentBlockDeltaEvent);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_type, s_contentBlockDelta);
        w.WriteNumber(s_index, block);
        w.WriteStartObject(s_delta);
        switch (kind)
        {
            case Fragment.Thinking:
                w.WriteString(s_type, s_thinkingDelta);
                w.WriteString(s_thinking, fragment);
                break;
            case Fragment.Text:
                w.WriteString(s_type, s_textDelta);
                w.WriteString(s_text, fragment);
                break;
            default:
                w.WriteString(s_type, s_inputJsonDelta);
                w.WriteString(s_partialJson, fragment);
                break;
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSignatureDelta(ChatExchange x, int block)
    {
        x.Raw(ContentBlockDeltaEvent);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_type, s_contentBlockDelta);
        w.WriteNumber(s_index, block);
        w.WriteStartObject(s_delta);
        w.WriteString(s_type, s_signatureDelta);
        w.WriteString(s_signature, x.Reply.ReasoningSignature ?? DefaultSignature);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteBlockStop(ChatExchange x, int block)
    {
        x.Raw(ContentBlockStopEvent);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_type, s_contentBlockStop);
        w.WriteNumber(s_index, block);
        w.WriteEndObject();
    }

    private static void WriteMessageDelta(ChatExchange x)
    {
        x.Raw(MessageDeltaEvent);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_type, s_messageDelta);
        w.WriteStartObject(s_delta);
        WriteStop(w, x.Reply);
        w.WriteEndObject();
        w.WriteStartObject(s_usage);
        w.WriteNumber(s_outputTokens, x.Usage.Output);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static async ValueTask<ReplyOutcome> CutOffAsync(ChatExchange x)
    {
        if (!x.Reply.CutOffWithErrorEvent)
        {
            return ReplyOutcome.CutOff;
        }

        x.Raw(ErrorEvent);
        WriteError(x.Json(), "overloaded_error", "Overloaded");
        return await x.EndEventAsync() ? ReplyOutcome.Completed : ReplyOutcome.ClientGone;
    }
}
