using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// The Anthropic Messages dialect (<c>POST /v1/messages</c>): requests, responses, stream events and error envelopes
/// converted between Anthropic's wire JSON and the canonical Microsoft.Extensions.AI model, in both directions.
/// </summary>
/// <remarks>
/// Conventions beyond <see cref="CanonicalKeys"/>:
/// <list type="bullet">
/// <item>Wire fields without a canonical property travel as <c>JsonElement</c> under <c>anthropic:&lt;wire name&gt;</c>, in the
/// <c>AdditionalProperties</c> of the options, message, content, tool or response they belong to, and are written back
/// verbatim; <c>openai:*</c> keys (or any other dialect's) are never written.</item>
/// <item>Content blocks without a fitting MEAI type (server tool blocks, search results, documents with custom content)
/// become <see cref="AnthropicRawContent"/>; server tools (<c>web_search_*</c>, <c>bash_*</c>, …) become
/// <see cref="AnthropicServerTool"/>; custom tools become <see cref="AnthropicToolDeclaration"/>.</item>
/// <item>A user turn's <c>tool_result</c> blocks become a <see cref="ChatRole.Tool"/> message of
/// <see cref="FunctionResultContent"/> (MEAI's and OpenAI's shape); the rest of that turn follows as a user message.
/// Writing joins them back into one user turn.</item>
/// </list>
/// </remarks>
internal sealed partial class AnthropicDialect : IChatDialect
{
    /// <summary>
    /// The <c>max_tokens</c> written when the canonical request has no <see cref="ChatOptions.MaxOutputTokens"/>
    /// (Anthropic requires the field; OpenAI clients often omit it).
    /// </summary>
    /// <remarks>4096 is accepted by every Claude model in service, including the smallest output limits; callers that know
    /// the model allows more pass another default to the constructor.</remarks>
    public const int DefaultMaxTokens = 4096;

    /// <summary>The prefix of this dialect's keys in <c>AdditionalProperties</c>.</summary>
    public const string KeyPrefix = "anthropic:";

    /// <summary>The shared instance, writing <see cref="DefaultMaxTokens"/> when a request has no maximum.</summary>
    public static AnthropicDialect Instance { get; } = new(DefaultMaxTokens);

    /// <summary>MEAI's serializer options without indentation, for values written as JSON text (tool results).</summary>
    internal static readonly JsonSerializerOptions CompactJson = CreateCompactJson();

    private readonly int _defaultMaxTokens;

    /// <summary>Creates the dialect with the <c>max_tokens</c> to write when a canonical request carries none.</summary>
    public AnthropicDialect(int defaultMaxTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(defaultMaxTokens, 1);
        _defaultMaxTokens = defaultMaxTokens;
    }

    /// <inheritdoc />
    public string Name => "anthropic";

    private static JsonSerializerOptions CreateCompactJson()
    {
        var options = new JsonSerializerOptions(AIJsonUtilities.DefaultOptions) { WriteIndented = false };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The <c>AdditionalProperties</c> key for an Anthropic wire field without a canonical property.</summary>
    internal static string Key(string wireName) => KeyPrefix + wireName;

    /// <summary>An Anthropic message id for <paramref name="responseId"/>: kept when it already is one, else prefixed with <c>msg_</c>.</summary>
    internal static string MessageId(string? responseId) =>
        string.IsNullOrEmpty(responseId) ? "msg_" + Guid.NewGuid().ToString("N")
        : responseId.StartsWith("msg_", StringComparison.Ordinal) ? responseId
        : "msg_" + responseId;

    /// <summary>Maps an Anthropic <c>stop_reason</c> to the canonical finish reason.</summary>
    /// <remarks><c>pause_turn</c> (a server-tool loop paused) ends the turn without truncation, so it reads as
    /// <see cref="ChatFinishReason.Stop"/>; the raw value travels under <see cref="CanonicalKeys.RawFinishReason"/> so an
    /// Anthropic encoder restores it.</remarks>
    internal static ChatFinishReason? MapStopReason(string? stopReason) => stopReason switch
    {
        null => null,
        "end_turn" or "stop_sequence" or "pause_turn" => ChatFinishReason.Stop,
        "max_tokens" or "model_context_window_exceeded" => ChatFinishReason.Length,
        "tool_use" => ChatFinishReason.ToolCalls,
        "refusal" => ChatFinishReason.ContentFilter,
        _ => new ChatFinishReason(stopReason),
    };

    /// <summary>
    /// The Anthropic <c>stop_reason</c> to write: the raw upstream value when it is an Anthropic one, else the canonical
    /// reason mapped (stop → end_turn, length → max_tokens, tool_calls → tool_use, content_filter → refusal).
    /// </summary>
    /// <remarks>A turn that produced tool calls always ends with <c>tool_use</c>: some OpenAI-compatible upstreams report
    /// <c>stop</c> with tool calls, and Anthropic clients run tools only on <c>tool_use</c>.</remarks>
    internal static string StopReasonFor(ChatFinishReason? reason, object? rawReason, bool hadToolCalls)
    {
        string? raw = rawReason switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            _ => null,
        };
        if (raw is "end_turn" or "max_tokens" or "stop_sequence" or "tool_use" or "pause_turn" or "refusal"
            or "model_context_window_exceeded")
        {
            return hadToolCalls && raw == "end_turn" ? "tool_use" : raw;
        }

        string mapped = reason?.Value switch
        {
            "length" => "max_tokens",
            "tool_calls" => "tool_use",
            "content_filter" => "refusal",
            _ => "end_turn",
        };
        return hadToolCalls && mapped == "end_turn" ? "tool_use" : mapped;
    }

    /// <summary>The canonical usage of an Anthropic <c>usage</c> object: cache reads and writes counted into the input.</summary>
    internal static UsageDetails ReadUsage(JsonElement usage)
    {
        long input = GetLong(usage, "input_tokens");
        long cacheRead = GetLong(usage, "cache_read_input_tokens");
        long cacheWrite = GetLong(usage, "cache_creation_input_tokens");
        long output = GetLong(usage, "output_tokens");
        var details = new UsageDetails
        {
            InputTokenCount = input + cacheRead + cacheWrite,
            OutputTokenCount = output,
            TotalTokenCount = input + cacheRead + cacheWrite + output,
            CachedInputTokenCount = cacheRead,
        };
        if (usage.TryGetProperty("cache_creation_input_tokens", out var cc) && cc.ValueKind == JsonValueKind.Number)
        {
            details.AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = cacheWrite };
        }

        return details;
    }

    /// <summary>Splits canonical usage back into Anthropic's fields (input without cache reads and writes).</summary>
    internal static (long Input, long CacheRead, long CacheWrite) SplitInput(UsageDetails? usage)
    {
        if (usage is null)
        {
            return (0, 0, 0);
        }

        long cacheRead = usage.CachedInputTokenCount ?? 0;
        long cacheWrite = 0;
        if (usage.AdditionalCounts is { } counts && counts.TryGetValue(CanonicalKeys.CacheWriteTokens, out long cw))
        {
            cacheWrite = cw;
        }

        long input = Math.Max(0, (usage.InputTokenCount ?? 0) - cacheRead - cacheWrite);
        return (input, cacheRead, cacheWrite);
    }

    private static long GetLong(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) ? n : 0;

    /// <summary>Writes one <c>AdditionalProperties</c> value as JSON; the one writer every dialect shares.</summary>
    internal static void WriteValue(Utf8JsonWriter writer, object? value) => CanonicalJson.WriteValue(writer, value);

    /// <summary>The key of a <c>tool_use</c> block's <c>caller</c> when it came from an Anthropic upstream.</summary>
    internal const string CallerKey = KeyPrefix + "caller";

    /// <summary>
    /// Writes <c>"caller":{"type":"direct"}</c>: Anthropic marks every <c>tool_use</c> block with who called the tool,
    /// and current SDKs reject a block without it. A call translated from another dialect was made by the model directly.
    /// </summary>
    internal static void WriteDirectCaller(Utf8JsonWriter writer)
    {
        writer.WritePropertyName("caller"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "direct"u8);
        writer.WriteEndObject();
    }

    /// <summary>
    /// Writes the <c>anthropic:*</c> entries of <paramref name="properties"/> as properties of the open object, and
    /// <see cref="CanonicalKeys.CacheControl"/> as <c>cache_control</c>; names in <paramref name="written"/> were already written.
    /// </summary>
    internal static void WriteExtras(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?>? properties, ReadOnlySpan<string> written = default)
    {
        if (properties is null || properties.Count == 0)
        {
            return;
        }

        bool hasCacheControl = properties.ContainsKey(CanonicalKeys.CacheControl);
        foreach (var (key, value) in properties)
        {
            if (key == CanonicalKeys.CacheControl)
            {
                if (value is not null)
                {
                    writer.WritePropertyName("cache_control");
                    WriteValue(writer, value);
                }

                continue;
            }

            if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = key.AsSpan(KeyPrefix.Length);
            if (name.Length == 0 || (hasCacheControl && name.SequenceEqual("cache_control")) || Contains(written, name))
            {
                continue;
            }

            writer.WritePropertyName(name);
            WriteValue(writer, value);
        }
    }

    private static bool Contains(ReadOnlySpan<string> names, ReadOnlySpan<char> name)
    {
        for (int i = 0; i < names.Length; i++)
        {
            if (name.SequenceEqual(names[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="value"/> is a JSON or CLR <c>true</c>.</summary>
    internal static bool IsTrue(object? value) => value switch
    {
        bool b => b,
        JsonElement { ValueKind: JsonValueKind.True } => true,
        _ => false,
    };
}
