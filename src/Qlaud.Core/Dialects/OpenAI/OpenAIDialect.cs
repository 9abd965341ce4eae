using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

/// <summary>The OpenAI Chat Completions dialect (<c>POST /v1/chat/completions</c>), spoken by OpenAI and most other providers.</summary>
/// <remarks>
/// <para>Where the canonical model has no place for a wire field, the codec keeps it:</para>
/// <list type="bullet">
/// <item><c>openai:&lt;name&gt;</c> keys hold a wire field verbatim as a <c>JsonElement</c> and are written back as they came:
/// request fields in <c>ChatOptions.AdditionalProperties</c>, message fields in <c>ChatMessage.AdditionalProperties</c>,
/// content part fields in <c>AIContent.AdditionalProperties</c>, response fields in <c>ChatResponse.AdditionalProperties</c>
/// (fields of <c>choices[0]</c> as <c>openai:choice.&lt;name&gt;</c>), extra integer usage counts in
/// <c>UsageDetails.AdditionalCounts</c> under their path (<c>openai:prompt_tokens_details.audio_tokens</c>).
/// Keys with another dialect's prefix are never written.</item>
/// <item><c>openai.*</c> keys (a dot) are markers this codec sets and reads; see the constants of this class.</item>
/// </list>
/// <para>Reasoning in the conversation history (<c>reasoning_content</c> on assistant messages) is written only when the
/// message was decoded by this dialect (it carries <see cref="ReasoningFieldKey"/>) or when the instance was created for
/// an upstream that wants it (<c>historyReasoningField</c>): many OpenAI-compatible upstreams reject unknown message fields.</para>
/// <para>Only <c>choices[0]</c> is translated (<c>n</c> &gt; 1 is kept in the request but further choices are not decoded).</para>
/// </remarks>
internal sealed partial class OpenAIDialect : IChatDialect
{
    /// <summary>The prefix of keys that hold a wire field of this dialect verbatim.</summary>
    internal const string Prefix = "openai:";

    /// <summary>On a <c>ChatMessage</c>: the wire role when the canonical role differs (<c>developer</c>, which decodes to System).</summary>
    internal const string RoleKey = "openai.role";

    /// <summary>On an assistant <c>ChatMessage</c>: the wire field that carried its reasoning (<c>reasoning_content</c> or <c>reasoning</c>).</summary>
    internal const string ReasoningFieldKey = "openai.reasoning_field";

    /// <summary>On a <c>TextContent</c>: <c>true</c> when the text is the model's refusal (<c>refusal</c>) rather than content.</summary>
    internal const string RefusalKey = "openai.refusal";

    /// <summary>On an image <c>DataContent</c>/<c>UriContent</c>: the <c>detail</c> level (the key Microsoft.Extensions.AI's OpenAI client reads).</summary>
    internal const string DetailKey = "detail";

    /// <summary>In <c>ChatOptions.AdditionalProperties</c>: <c>response_format.json_schema.strict</c>, as a bool.</summary>
    internal const string JsonSchemaStrictKey = "openai.json_schema_strict";

    /// <summary>The wire spelling of reasoning text written by DeepSeek and most hosts.</summary>
    internal const string ReasoningContentField = "reasoning_content";

    private readonly string? _historyReasoningField;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the dialect.</summary>
    /// <param name="historyReasoningField">The field (<c>reasoning_content</c> or <c>reasoning</c>) under which to send the
    /// reasoning of every assistant message in the history, for upstreams that need it back (DeepSeek tool turns); null sends it
    /// only for messages this dialect decoded.</param>
    /// <param name="timeProvider">The clock for <c>created</c> when the canonical response has no timestamp.</param>
    public OpenAIDialect(string? historyReasoningField = null, TimeProvider? timeProvider = null)
    {
        _historyReasoningField = historyReasoningField;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The dialect with default settings.</summary>
    public static OpenAIDialect Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "openai";

    private static bool IsOwnKey(string key) => key.StartsWith(Prefix, StringComparison.Ordinal);

    private static ChatFinishReason ToFinishReason(string value) => value switch
    {
        "stop" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        "tool_calls" or "function_call" => ChatFinishReason.ToolCalls,
        "content_filter" => ChatFinishReason.ContentFilter,
        _ => new ChatFinishReason(value),
    };

    /// <summary>The wire finish reason for a canonical one.</summary>
    internal static string FromFinishReason(ChatFinishReason reason)
    {
        if (reason == ChatFinishReason.Stop)
        {
            return "stop";
        }

        if (reason == ChatFinishReason.Length)
        {
            return "length";
        }

        if (reason == ChatFinishReason.ToolCalls)
        {
            return "tool_calls";
        }

        return reason == ChatFinishReason.ContentFilter ? "content_filter" : reason.Value;
    }

    /// <summary>The finish reason decoded from the wire, with the raw string kept for translators.</summary>
    internal static ChatFinishReason ReadFinishReason(string value, ref AdditionalPropertiesDictionary? properties)
    {
        (properties ??= [])[CanonicalKeys.RawFinishReason] = value;
        return ToFinishReason(value);
    }
}
