using System.Collections.Immutable;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using System.Text;
using Qlaud.Core.Tests.Tokenization;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Tokenization;

namespace Qlaud.Core.Tests.Metering;

public sealed class SpendEstimatorTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    [InlineData(3000, 1000)]
    public void EstimateInputTokens_BodyBytes_ThreeBytesPerTokenRoundedUp(int bytes, long expected)
        => Assert.Equal(expected, SpendEstimator.EstimateInputTokens(bytes));

    [Theory]
    [InlineData(null, 8192, 8192)]
    [InlineData(100L, 8192, 100)]
    [InlineData(100_000L, 8192, 8192)]
    [InlineData(500L, 0, 500)]
    [InlineData(null, 0, SpendEstimator.DefaultMaxOutputTokens)]
    public void MaxOutputTokens_RequestAndModel_RequestCappedAtModelMaximum(long? requested, int modelMax, long expected)
    {
        var model = new CatalogModel("m", "m", "o", 100_000, modelMax, ModelCapabilities.None, []);

        Assert.Equal(expected, SpendEstimator.MaxOutputTokens(requested, model));
    }

    [Fact]
    public void Estimate_TwoCandidateRoutes_UsesTheDearestRouteAtItsDearestInputRateWithMarkup()
    {
        var provider = new CatalogProvider("p", "openai", new Uri("http://127.0.0.1:9/v1"), ImmutableDictionary<string, string>.Empty, true, TimeSpan.FromSeconds(1));
        var cheap = new CatalogRoute("m", provider, "cheap", new ModelPrice(1_000_000, 2_000_000, 100_000, 1_250_000));
        var dear = new CatalogRoute("m", provider, "dear", new ModelPrice(3_000_000, 15_000_000, 300_000, 3_750_000));

        var estimate = SpendEstimator.Estimate([cheap, dear], inputTokens: 1_000, outputTokens: 100, markupPercent: 10);

        // dear route: 1000 × $3.75 (cache write is its dearest input rate) + 100 × $15 = 3750 + 1500 = 5250 micro-USD, +10 % = 5775
        Assert.Equal(new SpendEstimate(1_000, 100, 5_775), estimate);
        Assert.Equal(1_100, estimate.RateLimitTokens);
    }

    [Fact]
    public void EstimateInputTokens_ChatMessagesForOpenAIModel_BoundsTextPlusInstructionsAndOverhead()
    {
        List<ChatMessage> messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hello, world")];
        var options = new ChatOptions { ModelId = "gpt-4o", Instructions = "abc" };

        long tokens = SpendEstimator.EstimateInputTokens(messages, options);

        Assert.Equal(TokenBound.Count("abc") + TokenBound.Count("Be brief.") + TokenBound.Count("Hello, world") + (3 * (TokenCounter.TokensPerMessage + 1)) + TokenCounter.ReplyPriming, tokens);
        Assert.True(tokens >= ConversationTokens.Count(messages, options, TokenEncoding.O200k));
    }

    [Fact]
    public void EstimateInputTokens_ChatMessagesForOtherFamily_AddsTheMargin()
    {
        List<ChatMessage> messages = [new(ChatRole.User, string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 50)))];

        long openAI = SpendEstimator.EstimateInputTokens(messages, new ChatOptions { ModelId = "gpt-4" });
        long claude = SpendEstimator.EstimateInputTokens(messages, new ChatOptions { ModelId = "claude-sonnet-5" });

        Assert.Equal(TokenCounter.WithNonOpenAIMargin(openAI), claude);
    }

    [Fact]
    public void EstimateInputTokens_WireBodyWithFourMegabyteImage_CountsTheImageByItsSize()
    {
        string image = Convert.ToBase64String(MediaTokensTests.Png(1024, 1024, 4 * 1024 * 1024));
        byte[] body = Encoding.UTF8.GetBytes($$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{image}}}"}}]}]}""");
        Assert.Null(WireRequestScanner.Scan(body, out var info));

        long tokens = SpendEstimator.EstimateInputTokens(body, info, [Route("gpt-4o")]);

        // The image is 1399 (Anthropic's formula, the larger); the JSON around it under a hundred. By size it was 1.9 million.
        Assert.InRange(tokens, 1399 + 20, 1399 + 100);
        Assert.True(SpendEstimator.EstimateInputTokens(body.Length) > 1_000_000);
    }

    [Fact]
    public void EstimateInputTokens_WireBody_AtLeastTheConversationsOwnCount()
    {
        string text = string.Concat(Enumerable.Repeat("Tokenizers split text into pieces; JSON adds its own. ", 40));
        byte[] body = Encoding.UTF8.GetBytes($$"""{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"{{text}}"}]}""");
        WireRequestScanner.Scan(body, out var info);
        List<ChatMessage> messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, text)];

        long wire = SpendEstimator.EstimateInputTokens(body, info, [Route("gpt-4o")]);
        long exact = ConversationTokens.Count(messages, new ChatOptions(), TokenEncoding.O200k);

        Assert.InRange(wire, exact, exact * 2);
        Assert.Equal(TokenCounter.WithNonOpenAIMargin(wire), SpendEstimator.EstimateInputTokens(body, info, [Route("gpt-4o"), Route("claude-sonnet-5")]));
    }

    private static CatalogRoute Route(string upstreamModel)
    {
        var provider = new CatalogProvider("p", "openai", new Uri("http://127.0.0.1:9/v1"), ImmutableDictionary<string, string>.Empty, true, TimeSpan.FromSeconds(1));
        return new CatalogRoute("m", provider, upstreamModel, new ModelPrice(1_000_000, 2_000_000, 0, 0));
    }
}
