using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects.Anthropic;

namespace Qlaud.Tokenization;

/// <summary>Counts the input tokens of a canonical conversation: messages with OpenAI's per-message overhead, tools, system, media.</summary>
/// <remarks>
/// Text (messages, instructions, reasoning, tool call arguments and results, tool names, descriptions and schemas) is
/// counted with <see cref="TokenCounter"/>; each message adds <see cref="TokenCounter.TokensPerMessage"/> and its role's token
/// (one more, and the name's, for an author name), a conversation adds <see cref="TokenCounter.ReplyPriming"/>, each tool <see cref="TokenCounter.TokensPerTool"/>
/// and the tool list <see cref="TokenCounter.ToolsOverhead"/>, as the OpenAI cookbook counts them. Images, documents and
/// audio are counted by <see cref="MediaTokens"/>; linked media (a URL, a hosted file) by its allowance.
/// </remarks>
internal static class ConversationTokens
{
    /// <summary>The role's own token (<c>system</c>, <c>user</c>, <c>assistant</c> and <c>tool</c> are one token each).</summary>
    public const int TokensPerRole = 1;

    /// <summary>Counts with the tokenizer of <paramref name="encoding"/>.</summary>
    public static long Count(IEnumerable<ChatMessage> messages, ChatOptions? options, TokenEncoding encoding) => Count(messages, options, (TokenEncoding?)encoding);

    /// <summary>Counts with <see cref="TokenBound"/> instead of a tokenizer: at or above both tokenizers' count, in one pass over the text.</summary>
    public static long Bound(IEnumerable<ChatMessage> messages, ChatOptions? options) => Count(messages, options, null);

    private static long Text(string? text, TokenEncoding? encoding) => encoding is { } e ? TokenCounter.Count(text, e) : TokenBound.Count(text);

    private static long Utf8(ReadOnlySpan<byte> utf8, TokenEncoding? encoding) => encoding is { } e ? TokenCounter.CountUtf8(utf8, e) : TokenBound.Count(utf8);

    private static long Count(IEnumerable<ChatMessage> messages, ChatOptions? options, TokenEncoding? encoding)
    {
        ArgumentNullException.ThrowIfNull(messages);
        long tokens = 0;
        bool any = false;
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            tokens += TokenCounter.TokensPerMessage + TokensPerRole + Text(instructions, encoding);
            any = true;
        }

        foreach (var message in messages)
        {
            any = true;
            tokens += TokenCounter.TokensPerMessage + TokensPerRole;
            if (message.AuthorName is { Length: > 0 } name)
            {
                tokens += 1 + Text(name, encoding);
            }

            var contents = message.Contents;
            for (int i = 0; i < contents.Count; i++)
            {
                tokens += Content(contents[i], encoding);
            }
        }

        if (any)
        {
            tokens += TokenCounter.ReplyPriming;
        }

        if (options?.Tools is { Count: > 0 } tools)
        {
            tokens += TokenCounter.ToolsOverhead;
            for (int i = 0; i < tools.Count; i++)
            {
                var tool = tools[i];
                tokens += TokenCounter.TokensPerTool + Text(tool.Name, encoding) + Text(tool.Description, encoding);
                tokens += tool switch
                {
                    AIFunctionDeclaration function when function.JsonSchema.ValueKind != JsonValueKind.Undefined => Text(function.JsonSchema.GetRawText(), encoding),
                    AnthropicServerTool server => Text(server.Definition.GetRawText(), encoding),
                    _ => 0,
                };
            }
        }

        return tokens;
    }

    private static long Content(AIContent content, TokenEncoding? encoding)
    {
        switch (content)
        {
            case TextContent text:
                return Text(text.Text, encoding);
            case TextReasoningContent reasoning:
                return Text(reasoning.Text, encoding);
            case FunctionCallContent call:
            {
                long tokens = Text(call.Name, encoding);
                if (call.Arguments is { } arguments)
                {
                    foreach (var (name, value) in arguments)
                    {
                        tokens += Text(name, encoding) + 2 + Text(Json(value), encoding);
                    }
                }

                return tokens;
            }

            case FunctionResultContent result:
                switch (result.Result)
                {
                    case IEnumerable<AIContent> items:
                        long sum = 0;
                        foreach (var item in items)
                        {
                            sum += Content(item, encoding);
                        }

                        return sum;
                    case AIContent item:
                        return Content(item, encoding);
                    default:
                        return Text(Json(result.Result), encoding);
                }

            case DataContent data when data.HasTopLevelMediaType("text"):
                return Utf8(data.Data.Span, encoding);
            case DataContent data:
                return MediaTokens.FromBytes(data.Data.Span);
            case UriContent uri when uri.HasTopLevelMediaType("image"):
                return MediaTokens.ImageAllowance;
            case HostedFileContent file when file.HasTopLevelMediaType("image"):
                return MediaTokens.ImageAllowance;
            case UriContent or HostedFileContent:
                return MediaTokens.TokensPerPage;
            case AnthropicRawContent raw:
                return Text(raw.Block.GetRawText(), encoding);
            default:
                return 0;
        }
    }

    private static string Json(object? value) => value switch
    {
        null => "",
        string s => s,
        JsonElement element => element.ValueKind == JsonValueKind.Undefined ? "" : element.GetRawText(),
        _ => JsonSerializer.Serialize(value, AnthropicDialect.CompactJson.GetTypeInfo(value.GetType())),
    };
}
