using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// Estimates the input tokens of a request for <c>POST /v1/messages/count_tokens</c> when the route's upstream cannot count
/// them (non-Anthropic models).
/// </summary>
/// <remarks>
/// The estimate is the number of characters divided by <see cref="CharactersPerToken"/>, rounded up, over the system
/// prompt, every message's text, reasoning, tool calls (name and argument JSON) and tool results, and the tools' names,
/// descriptions and input schemas; plus <see cref="PerMessageOverhead"/> tokens per message for role and framing,
/// <see cref="PerImage"/> tokens per image and <see cref="PerDocument"/> tokens per document that is not plain text.
/// About four characters per token holds for English prose and code with Claude's and OpenAI's tokenizers; it
/// underestimates dense non-Latin text. It is an estimate for budgeting and context management, never used for billing.
/// </remarks>
internal static class AnthropicTokenEstimator
{
    /// <summary>Characters per token assumed for text.</summary>
    public const int CharactersPerToken = 4;

    /// <summary>Tokens added per message for the role and turn framing.</summary>
    public const int PerMessageOverhead = 4;

    /// <summary>Tokens counted per image: Anthropic's cost for an image at its recommended maximum size (about 1.15 megapixels).</summary>
    public const int PerImage = 1600;

    /// <summary>Tokens counted per PDF or hosted document, whose page count is unknown without parsing it.</summary>
    public const int PerDocument = 1500;

    /// <summary>Estimates the input tokens of <paramref name="request"/>.</summary>
    public static int EstimateInputTokens(CanonicalChatRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        long characters = 0;
        long fixedTokens = 0;

        var messages = request.Messages;
        for (int i = 0; i < messages.Count; i++)
        {
            fixedTokens += PerMessageOverhead;
            var contents = messages[i].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                Count(contents[j], ref characters, ref fixedTokens);
            }
        }

        var options = request.Options;
        characters += options.Instructions?.Length ?? 0;
        if (options.Tools is { } tools)
        {
            for (int i = 0; i < tools.Count; i++)
            {
                var tool = tools[i];
                characters += tool.Name.Length + tool.Description.Length;
                switch (tool)
                {
                    case AIFunctionDeclaration function when function.JsonSchema.ValueKind != JsonValueKind.Undefined:
                        characters += function.JsonSchema.GetRawText().Length;
                        break;
                    case AnthropicServerTool server:
                        characters += server.Definition.GetRawText().Length;
                        break;
                }
            }
        }

        long tokens = fixedTokens + ((characters + CharactersPerToken - 1) / CharactersPerToken);
        return tokens > int.MaxValue ? int.MaxValue : (int)tokens;
    }

    private static void Count(AIContent content, ref long characters, ref long fixedTokens)
    {
        switch (content)
        {
            case TextContent text:
                characters += text.Text.Length;
                break;
            case TextReasoningContent reasoning:
                characters += reasoning.Text.Length;
                break;
            case FunctionCallContent call:
                characters += call.Name.Length;
                if (call.Arguments is { } arguments)
                {
                    foreach (var (name, value) in arguments)
                    {
                        characters += name.Length + 4 + ValueLength(value);
                    }
                }

                break;
            case FunctionResultContent result:
                switch (result.Result)
                {
                    case IEnumerable<AIContent> items:
                        foreach (var item in items)
                        {
                            Count(item, ref characters, ref fixedTokens);
                        }

                        break;
                    case AIContent item:
                        Count(item, ref characters, ref fixedTokens);
                        break;
                    default:
                        characters += ValueLength(result.Result);
                        break;
                }

                break;
            case DataContent data when data.HasTopLevelMediaType("text"):
                characters += data.Data.Length;
                break;
            case DataContent data when data.HasTopLevelMediaType("image"):
                fixedTokens += PerImage;
                break;
            case UriContent uri when uri.HasTopLevelMediaType("image"):
                fixedTokens += PerImage;
                break;
            case HostedFileContent file when file.HasTopLevelMediaType("image"):
                fixedTokens += PerImage;
                break;
            case DataContent or UriContent or HostedFileContent:
                fixedTokens += PerDocument;
                break;
            case AnthropicRawContent raw:
                characters += raw.Block.GetRawText().Length;
                break;
        }
    }

    private static int ValueLength(object? value) => value switch
    {
        null => 0,
        string s => s.Length,
        JsonElement element => element.ValueKind == JsonValueKind.Undefined ? 0 : element.GetRawText().Length,
        _ => JsonSerializer.Serialize(value, AnthropicDialect.CompactJson.GetTypeInfo(value.GetType())).Length,
    };
}
