using System.Buffers;
using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>
/// Writes OpenAI Chat Completions responses: the <c>chat.completion</c> object, the <c>chat.completion.chunk</c>
/// event stream ending in <c>data: [DONE]</c>, the <c>{"error":{…}}</c> envelope and the model list.
/// </summary>
/// <remarks>
/// Every chunk shares a per-request prefix (<c>{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":</c>)
/// rendered once; only the <c>delta</c> object is written per chunk.
/// </remarks>
internal static class OpenAIWire
{
    public const string IdPrefix = "chatcmpl-";
    public const string ToolCallIdPrefix = "call_";

    private static readonly JsonEncodedText s_id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText s_object = JsonEncodedText.Encode("object");
    private static readonly JsonEncodedText s_created = JsonEncodedText.Encode("created");
    private static readonly JsonEncodedText s_model = JsonEncodedText.Encode("model");
    private static readonly JsonEncodedText s_choices = JsonEncodedText.Encode("choices");
    private static readonly JsonEncodedText s_index = JsonEncodedText.Encode("index");
    private static readonly JsonEncodedText s_message = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText s_role = JsonEncodedText.Encode("role");
    private static readonly JsonEncodedText s_assistant = JsonEncodedText.Encode("assistant");
    private static readonly JsonEncodedText s_content = JsonEncodedText.Encode("content");
    private static readonly JsonEncodedText s_refusal = JsonEncodedText.Encode("refusal");
    private static readonly JsonEncodedText s_reasoningContent = JsonEncodedText.Encode("reasoning_content");
    private static readonly JsonEncodedText s_toolCalls = JsonEncodedText.Encode("tool_calls");
    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText s_function = JsonEncodedText.Encode("function");
    private static readonly JsonEncodedText s_name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText s_arguments = JsonEncodedText.Encode("arguments");
    private static readonly JsonEncodedText s_logprobs = JsonEncodedText.Encode("logprobs");
    private static readonly JsonEncodedText s_finishReason = JsonEncodedText.Encode("finish_reason");
    private static readonly JsonEncodedText s_usage = JsonEncodedText.Encode("usage");
    private static readonly JsonEncodedText s_promptTokens = JsonEncodedText.Encode("prompt_tokens");
    private static readonly JsonEncodedText s_completionTokens = JsonEncodedText.Encode("completion_tokens");
    private static readonly JsonEncodedText s_totalTokens = JsonEncodedText.Encode("total_tokens");
    private static readonly JsonEncodedText s_promptTokensDetails = JsonEncodedText.Encode("prompt_tokens_details");
    private static readonly JsonEncodedText s_cachedTokens = JsonEncodedText.Encode("cached_tokens");
    private static readonly JsonEncodedText s_completionTokensDetails = JsonEncodedText.Encode("completion_tokens_details");
    private static readonly JsonEncodedText s_reasoningTokens = JsonEncodedText.Encode("reasoning_tokens");
    private static readonly JsonEncodedText s_chatCompletion = JsonEncodedText.Encode("chat.completion");
    private static readonly JsonEncodedText s_chatCompletionChunk = JsonEncodedText.Encode("chat.completion.chunk");
    private static readonly JsonEncodedText s_error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText s_param = JsonEncodedText.Encode("param");
    private static readonly JsonEncodedText s_code = JsonEncodedText.Encode("code");
    private static readonly JsonEncodedText s_data = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText s_ownedBy = JsonEncodedText.Encode("owned_by");

    private enum Fragment
    {
        Reasoning,
        Text,
        ToolArguments,
    }

    private static ReadOnlySpan<byte> ChoiceOpen => "[{\"index\":0,\"delta\":"u8;

    private static ReadOnlySpan<byte> ChoiceClose => ",\"logprobs\":null,\"finish_reason\":null}]"u8;

    private static ReadOnlySpan<byte> ChunkClose => "}"u8;

    private static ReadOnlySpan<byte> ChunkCloseWithNullUsage => ",\"usage\":null}"u8;

    private static ReadOnlySpan<byte> Done => "data: [DONE]\n\n"u8;

    public static async ValueTask<ReplyOutcome> WriteCompletionAsync(ChatExchange x)
    {
        x.Http.Response.ContentType = FakeHttp.JsonContentType;
        var reply = x.Reply;
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_id, FakeIds.Create(IdPrefix, x.Sequence));
        w.WriteString(s_object, s_chatCompletion);
        w.WriteNumber(s_created, x.Created);
        w.WriteString(s_model, x.Model);
        w.WriteStartArray(s_choices);
        w.WriteStartObject();
        w.WriteNumber(s_index, 0);
        w.WriteStartObject(s_message);
        w.WriteString(s_role, s_assistant);
        if (reply.Content is null)
        {
            w.WriteNull(s_content);
        }
        else
        {
            w.WriteString(s_content, reply.Content);
        }

        if (reply.Reasoning is not null)
        {
            w.WriteString(s_reasoningContent, reply.Reasoning);
        }

        if (reply.ToolCalls.Count > 0)
        {
            w.WriteStartArray(s_toolCalls);
            for (var i = 0; i < reply.ToolCalls.Count; i++)
            {
                var call = reply.ToolCalls[i];
                w.WriteStartObject();
                w.WriteString(s_id, x.ToolCallId(i, ToolCallIdPrefix));
                w.WriteString(s_type, s_function);
                w.WriteStartObject(s_function);
                w.WriteString(s_name, call.Name);
                w.WriteString(s_arguments, call.ArgumentsJson);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteNull(s_refusal);
        w.WriteEndObject();
        w.WriteNull(s_logprobs);
        w.WriteString(s_finishReason, FinishReason(reply));
        w.WriteEndObject();
        w.WriteEndArray();
        w.WritePropertyName(s_usage);
        WriteUsage(w, x.Usage);
        w.WriteEndObject();
        return await x.FlushAsync() ? ReplyOutcome.Completed : ReplyOutcome.ClientGone;
    }

    public static async ValueTask<ReplyOutcome> StreamCompletionAsync(ChatExchange x)
    {
        FakeHttp.SetEventStreamHeaders(x.Http.Response);
        var reply = x.Reply;
        var prefix = RenderChunkPrefix(x);

        WriteRoleChunk(x, prefix);
        if (!await x.EndEventAsync())
        {
            return ReplyOutcome.ClientGone;
        }

        if (x.ShouldCutOff)
        {
            return await CutOffAsync(x);
        }

        if (reply.Reasoning is not null
            && await StreamFragmentsAsync(x, prefix, reply.Reasoning, Fragment.Reasoning, 0) is ReplyOutcome afterReasoning)
        {
            return afterReasoning;
        }

        if (reply.Content is not null
            && await StreamFragmentsAsync(x, prefix, reply.Content, Fragment.Text, 0) is ReplyOutcome afterText)
        {
            return afterText;
        }

        for (var i = 0; i < reply.ToolCalls.Count; i++)
        {
            WriteToolCallHeaderChunk(x, prefix, i);
            if (!await x.EndEventAsync())
            {
                return ReplyOutcome.ClientGone;
            }

            if (await StreamFragmentsAsync(x, prefix, reply.ToolCalls[i].ArgumentsJson, Fragment.ToolArguments, i) is ReplyOutcome afterTool)
            {
                return afterTool;
            }
        }

        WriteFinishChunk(x, prefix);
        if (!await x.EndEventAsync())
        {
            return ReplyOutcome.ClientGone;
        }

        if (x.IncludeUsage)
        {
            WriteUsageChunk(x, prefix);
            if (!await x.EndEventAsync())
            {
                return ReplyOutcome.ClientGone;
            }
        }

        x.Raw(Done);
        return await x.FlushAsync() ? ReplyOutcome.Completed : ReplyOutcome.ClientGone;
    }

    /// <summary>Writes an error envelope: <c>{"error":{"message","type","param","code"}}</c>.</summary>
    public static void WriteError(Utf8JsonWriter w, string message, string type, string? code)
    {
        w.WriteStartObject();
        w.WriteStartObject(s_error);
        w.WriteString("message"u8, message);
        w.WriteString(s_type, type);
        w.WriteNull(s_param);
        if (code is null)
        {
            w.WriteNull(s_code);
        }
        else
        {
            w.WriteString(s_code, code);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The error <c>type</c> and <c>code</c> OpenAI uses for a status.</summary>
    public static (string Type, string? Code) ErrorKind(int status) => status switch
    {
        401 => ("invalid_request_error", "invalid_api_key"),
        403 => ("invalid_request_error", "unsupported_country_region_territory"),
        429 => ("requests", "rate_limit_exceeded"),
        >= 500 => ("server_error", null),
        _ => ("invalid_request_error", null),
    };

    /// <summary>Renders the <c>GET /v1/models</c> list once.</summary>
    public static byte[] RenderModels(IReadOnlyList<string> models, long created)
    {
        using var buffer = new PooledBufferWriter(512);
        using (var w = new Utf8JsonWriter(buffer, FakeHttp.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString(s_object, "list"u8);
            w.WriteStartArray(s_data);
            foreach (var model in models)
            {
                w.WriteStartObject();
                w.WriteString(s_id, model);
                w.WriteString(s_object, "model"u8);
                w.WriteNumber(s_created, created);
                w.WriteString(s_ownedBy, "qlaud-fake"u8);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static string FinishReason(FakeReply reply)
        => (reply.FinishReason ?? (reply.ToolCalls.Count > 0 ? FakeFinishReason.ToolCalls : FakeFinishReason.Stop)) switch
        {
            FakeFinishReason.Length => "length",
            FakeFinishReason.ToolCalls => "tool_calls",
            FakeFinishReason.ContentFilter => "content_filter",
            _ => "stop",
        };

    private static void WriteUsage(Utf8JsonWriter w, ResolvedUsage usage)
    {
        w.WriteStartObject();
        w.WriteNumber(s_promptTokens, usage.Input);
        w.WriteNumber(s_completionTokens, usage.Output);
        w.WriteNumber(s_totalTokens, usage.Input + usage.Output);
        w.WriteStartObject(s_promptTokensDetails);
        w.WriteNumber(s_cachedTokens, usage.Cached);
        w.WriteEndObject();
        w.WriteStartObject(s_completionTokensDetails);
        w.WriteNumber(s_reasoningTokens, usage.Reasoning);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary><c>data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":</c>, shared by every chunk of one stream.</summary>
    private static byte[] RenderChunkPrefix(ChatExchange x)
    {
        using var buffer = new PooledBufferWriter(256);
        buffer.Write("data: "u8);

        // The writer stops after the "choices" name: the rest of each chunk is appended per event.
        var w = x.Json(buffer);
        w.WriteStartObject();
        w.WriteString(s_id, FakeIds.Create(IdPrefix, x.Sequence));
        w.WriteString(s_object, s_chatCompletionChunk);
        w.WriteNumber(s_created, x.Created);
        w.WriteString(s_model, x.Model);
        w.WritePropertyName(s_choices);
        w.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void BeginChunk(ChatExchange x, byte[] prefix)
    {
        x.Raw(prefix);
        x.Raw(ChoiceOpen);
    }

    private static void EndChunk(ChatExchange x)
    {
        x.Raw(ChoiceClose);
        x.Raw(x.IncludeUsage ? ChunkCloseWithNullUsage : ChunkClose);
    }

    private static void WriteRoleChunk(ChatExchange x, byte[] prefix)
    {
        BeginChunk(x, prefix);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteString(s_role, s_assistant);
        if (x.Reply.Content is null)
        {
            w.WriteNull(s_content);
        }
        else
        {
            w.WriteString(s_content, ""u8);
        }

        w.WriteNull(s_refusal);
        w.WriteEndObject();
        EndChunk(x);
    }

    private static async ValueTask<ReplyOutcome?> StreamFragmentsAsync(ChatExchange x, byte[] prefix, string text, Fragment kind, int toolIndex)
    {
        var position = 0;
        while (position < text.Length)
        {
            await x.BeforeDeltaAsync();
            var length = x.NextFragmentLength(text.AsSpan(position));
            WriteFragmentChunk(x, prefix, kind, text.AsSpan(position, length), toolIndex);
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

        return null;
    }

    private static void WriteFragmentChunk(ChatExchange x, byte[] prefix, Fragment kind, ReadOnlySpan<char> fragment, int toolIndex)
    {
        BeginChunk(x, prefix);
        var w = x.Json();
        w.WriteStartObject();
        switch (kind)
        {
            case Fragment.Reasoning:
                // DeepSeek-style reasoning deltas carry content null beside reasoning_content.
                w.WriteNull(s_content);
                w.WriteString(s_reasoningContent, fragment);
                break;
            case Fragment.Text:
                w.WriteString(s_content, fragment);
                break;
            default:
                w.WriteStartArray(s_toolCalls);
                w.WriteStartObject();
                w.WriteNumber(s_index, toolIndex);
                w.WriteStartObject(s_function);
                w.WriteString(s_arguments, fragment);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndArray();
                break;
        }

        w.WriteEndObject();
        EndChunk(x);
    }

    private static void WriteToolCallHeaderChunk(ChatExchange x, byte[] prefix, int index)
    {
        BeginChunk(x, prefix);
        var w = x.Json();
        w.WriteStartObject();
        w.WriteStartArray(s_toolCalls);
        w.WriteStartObject();
        w.WriteNumber(s_index, index);
        w.WriteString(s_id, x.ToolCallId(index, ToolCallIdPrefix));
        w.WriteString(s_type, s_function);
        w.WriteStartObject(s_function);
        w.WriteString(s_name, x.Reply.ToolCalls[index].Name);
        w.WriteString(s_arguments, ""u8);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        EndChunk(x);
    }

    private static void WriteFinishChunk(ChatExchange x, byte[] prefix)
    {
        x.Raw(prefix);
        var w = x.Json();
        w.WriteStartArray();
        w.WriteStartObject();
        w.WriteNumber(s_index, 0);
        w.WriteStartObject("delta"u8);
        w.WriteEndObject();
        w.WriteNull(s_logprobs);
        w.WriteString(s_finishReason, FinishReason(x.Reply));
        w.WriteEndObject();
        w.WriteEndArray();
        x.Raw(x.IncludeUsage ? ChunkCloseWithNullUsage : ChunkClose);
    }

    private static void WriteUsageChunk(ChatExchange x, byte[] prefix)
    {
        x.Raw(prefix);
        x.Raw("[],\"usage\":"u8);
        WriteUsage(x.Json(), x.Usage);
        x.Raw(ChunkClose);
    }

    private static async ValueTask<ReplyOutcome> CutOffAsync(ChatExchange x)
    {
        if (!x.Reply.CutOffWithErrorEvent)
        {
            return ReplyOutcome.CutOff;
        }

        // OpenAI reports a failure mid-stream as a data line carrying the error envelope.
        x.Raw("data: "u8);
        WriteError(x.Json(), "The server had an error while processing your request.", "server_error", null);
        return await x.EndEventAsync() ? ReplyOutcome.Completed : ReplyOutcome.ClientGone;
    }
}
