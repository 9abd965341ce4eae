using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using Qlaud.Tokenization;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicTokenEstimatorTests
{
    private static int O200k(string text) => TokenCounter.Count(text, TokenEncoding.O200k);

    private static int Cl100k(string text) => TokenCounter.Count(text, TokenEncoding.Cl100k);

    [Fact]
    public void EstimateInputTokens_OpenAIModel_CountsO200kTokensPlusMessageOverheadAndPriming()
    {
        var request = AnthropicDialect.Instance.ReadCountTokensRequest(Utf8("""
            {"model":"gpt-4o","system":"Be brief.","messages":[{"role":"user","content":"Hello, world"}]}
            """));

        // 3 + 3 text tokens, 3 per message and 1 for its role, 3 priming the reply: 17, as the OpenAI cookbook counts it (the old
        // 4-characters-per-token estimate said 14).
        Assert.Equal(O200k("Be brief.") + O200k("Hello, world") + (2 * (TokenCounter.TokensPerMessage + 1)) + TokenCounter.ReplyPriming, AnthropicTokenEstimator.EstimateInputTokens(request));
        Assert.Equal(17, AnthropicTokenEstimator.EstimateInputTokens(request));
    }

    [Fact]
    public void EstimateInputTokens_RouteModel_ChoosesTheTokenizer()
    {
        string text = string.Concat(Enumerable.Repeat("Grüße aus Köln und 東京, ", 40));
        var request = new CanonicalChatRequest([new ChatMessage(ChatRole.User, text)], new ChatOptions { ModelId = "anything" }, Stream: false);

        Assert.Equal(O200k(text) + 7, AnthropicTokenEstimator.EstimateInputTokens(request, "gpt-4.1"));
        Assert.Equal(Cl100k(text) + 7, AnthropicTokenEstimator.EstimateInputTokens(request, "deepseek-chat"));
    }

    [Fact]
    public void EstimateInputTokens_ToolsCallsResultsAndImages_AreCounted()
    {
        var schema = Parse("""{"type":"object","properties":{"q":{"type":"string"}}}""");
        var request = new CanonicalChatRequest(
            [
                new ChatMessage(ChatRole.User, [new TextContent("find"), new DataContent(Tokenization.MediaTokensTests.Png(1000, 1000), "image/png")]),
                new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "search", new Dictionary<string, object?> { ["q"] = "cats" })]),
                new ChatMessage(ChatRole.Tool, [new FunctionResultContent("c1", "result text")]),
            ],
            new ChatOptions { ModelId = "gpt-4o", Tools = [AIFunctionFactory.CreateDeclaration("search", "Search the web", schema)] },
            Stream: false);

        long expected = O200k("find") + 1334 // a 1000×1000 image: Anthropic's 1334 is larger than OpenAI's 765
            + O200k("search") + O200k("q") + 2 + O200k("cats")
            + O200k("result text")
            + (3 * (TokenCounter.TokensPerMessage + 1)) + TokenCounter.ReplyPriming
            + TokenCounter.ToolsOverhead + TokenCounter.TokensPerTool + O200k("search") + O200k("Search the web") + O200k(schema.GetRawText());

        Assert.Equal(expected, AnthropicTokenEstimator.EstimateInputTokens(request));
    }

    [Fact]
    public void EstimateInputTokens_CodingAgentRequest_IsInPlausibleRange()
    {
        var request = AnthropicDialect.Instance.ReadRequest(Utf8(AnthropicFixtures.CodingAgentRequest));

        int tokens = AnthropicTokenEstimator.EstimateInputTokens(request);

        int characters = AnthropicFixtures.CodingAgentRequest.Length;
        Assert.InRange(tokens, characters / 8, characters / 3);
    }

    [Fact]
    public void EstimateInputTokens_EmptyRequest_IsZero()
    {
        Assert.Equal(0, AnthropicTokenEstimator.EstimateInputTokens(new CanonicalChatRequest([], new ChatOptions(), false)));
    }
}
