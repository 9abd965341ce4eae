namespace Qlaud.Dialects;

/// <summary>
/// The names under which dialects put wire fields that the canonical model has no property for, so that a field
/// decoded by one dialect is found by another when translating.
/// </summary>
/// <remarks>
/// Conventions shared by all codecs (beyond these keys):
/// reasoning text is <c>TextReasoningContent</c> (Anthropic thinking signature in <c>ProtectedData</c>; a
/// <c>redacted_thinking</c> block is a <c>TextReasoningContent</c> with empty text, the redacted payload in
/// <c>ProtectedData</c> and <see cref="Redacted"/> = true in its AdditionalProperties);
/// images are <c>DataContent</c> (inline base64) or <c>UriContent</c> (URL); cached input tokens are
/// <c>UsageDetails.CachedInputTokenCount</c>, reasoning tokens <c>UsageDetails.ReasoningTokenCount</c>.
/// <c>InputTokenCount</c> counts every input token, cached and cache-written ones included (OpenAI's meaning);
/// the Anthropic codec adds <c>cache_read_input_tokens</c> and <c>cache_creation_input_tokens</c> to its
/// <c>input_tokens</c> when decoding and subtracts them again when encoding.
/// Wire fields of the request that a dialect does not map are kept in <c>ChatOptions.AdditionalProperties</c>
/// as <c>JsonElement</c> under their wire name, prefixed with the dialect name and a colon
/// (<c>openai:logprobs</c>, <c>anthropic:container</c>) so a translating encoder can tell foreign fields from its own.
/// </remarks>
internal static class CanonicalKeys
{
    /// <summary>The end user (OpenAI <c>user</c>, Anthropic <c>metadata.user_id</c>) in <c>ChatOptions.AdditionalProperties</c>, as a string.</summary>
    public const string EndUser = "qlaud.end_user";

    /// <summary>Input tokens written to the prompt cache, in <c>UsageDetails.AdditionalCounts</c>.</summary>
    public const string CacheWriteTokens = "cache_creation_input_tokens";

    /// <summary>The raw <c>cache_control</c> JSON (a <c>JsonElement</c>) of a content block or tool, in its AdditionalProperties.</summary>
    public const string CacheControl = "cache_control";

    /// <summary>Marks a <c>TextReasoningContent</c> that carries a redacted thinking block (value <c>true</c>).</summary>
    public const string Redacted = "qlaud.redacted";

    /// <summary>The upstream's own finish/stop reason string, in <c>ChatResponse(Update).AdditionalProperties</c>.</summary>
    public const string RawFinishReason = "qlaud.raw_finish_reason";

    /// <summary>A tool result that reports an error (Anthropic <c>is_error</c>), as <c>true</c> in <c>FunctionResultContent.AdditionalProperties</c>.</summary>
    public const string IsError = "qlaud.is_error";

    /// <summary>The maximum output tokens the client allowed, when it used a dialect-specific spelling
    /// (<c>max_completion_tokens</c>); <c>ChatOptions.MaxOutputTokens</c> always holds the number.</summary>
    public const string MaxTokensField = "qlaud.max_tokens_field";

    /// <summary>The tool call's arguments text, as a string in <c>FunctionCallContent.AdditionalProperties</c>, kept only when it
    /// is not a JSON object (then <c>FunctionCallContent.Arguments</c> is null and <c>Exception</c> says why) so that
    /// an encoder can send the model's exact text back.</summary>
    public const string RawArguments = "qlaud.raw_arguments";
}
