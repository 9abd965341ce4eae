using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicTokenEstimatorTests
{
    [Fact]
    public void EstimateInputTokens_TextMessages_CountsCharactersOverFourRoundedUpPlusOverhead()
    {
        var request = new CanonicalChatRequest(
            [new ChatMessage(ChatRole.System, new string('s', 40)), new ChatMessage(ChatRole.User, new string('u', 21))],
            new ChatOptions(),
            Stream: false);

        // (40 + 21) / 4 rounded up = 16, plus 2 messages × 4.
        Assert.Equal(16 + (2 * AnthropicTokenEstimator.PerMessageOverhead), AnthropicTokenEstimator.EstimateInputTokens(request));
    }

    [Fact]
    public void EstimateInputTokens_ToolsCallsResultsAndImages_AreCounted()
    {
        var schema = Parse("""{"type":"object","properties":{"q":{"type":"string"}}}""");
        var request = new CanonicalChatRequest(
            [
                new ChatMessage(ChatRole.User, [new TextContent("find"), new DataContent(new byte[] { 1 }, "image/png")]),
                new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "search", new Dictionary<string, object?> { ["q"] = "cats" })]),
                new ChatMessage(ChatRole.Tool, [new FunctionResultContent("c1", "result text")]),
            ],
            new ChatOptions { Tools = [AIFunctionFactory.CreateDeclaration("search", "Search the web", schema)] },
            Stream: false);

        long characters = "find".Length
            + "search".Length + "q".Length + 4 + "cats".Length
            + "result text".Length
            + "search".Length + "Search the web".Length + schema.GetRawText().Length;
        int expected = (int)((characters + 3) / 4) + (3 * AnthropicTokenEstimator.PerMessageOverhead) + AnthropicTokenEstimator.PerImage;

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
    public void ReadCountTokensRequest_WithoutMaxTokens_IsAccepted()
    {
        var request = AnthropicDialect.Instance.ReadCountTokensRequest(Utf8("""
            {"model":"claude-sonnet-4-5","system":"Be brief.","messages":[{"role":"user","content":"Hello, world"}]}
            """));

        Assert.Null(request.Options.MaxOutputTokens);
        Assert.Equal(((9 + 12 + 3) / 4) + (2 * AnthropicTokenEstimator.PerMessageOverhead), AnthropicTokenEstimator.EstimateInputTokens(request));
    }

    [Fact]
    public void EstimateInputTokens_EmptyRequest_IsZero()
    {
        Assert.Equal(0, AnthropicTokenEstimator.EstimateInputTokens(new CanonicalChatRequest([], new ChatOptions(), false)));
    }
}
