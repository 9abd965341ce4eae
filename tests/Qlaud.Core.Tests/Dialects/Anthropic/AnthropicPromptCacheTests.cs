using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicPromptCacheTests
{
    [Theory]
    [InlineData("claude-sonnet-4-5-20250929", 1024)]
    [InlineData("claude-opus-4-1-20250805", 1024)]
    [InlineData("claude-sonnet-4-6", 2048)]
    [InlineData("claude-3-5-haiku-20241022", 2048)]
    [InlineData("claude-haiku-4-5-20251001", 4096)]
    [InlineData("claude-opus-4-5-20251101", 4096)]
    [InlineData("claude-opus-4-6", 4096)]
    public void MinimumCacheableTokens_ByModel_AsAnthropicDocuments(string model, int expected)
        => Assert.Equal(expected, AnthropicPromptCache.MinimumCacheableTokens(model));

    [Fact]
    public void ShouldPlaceBreakpoints_LongFinalTurnShortPrefix_False()
    {
        var request = new CanonicalChatRequest([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, Prose(600))], new ChatOptions(), false);

        Assert.False(AnthropicPromptCache.ShouldPlaceBreakpoints(request, "claude-sonnet-4-5"));
    }

    [Fact]
    public void ShouldPlaceBreakpoints_LongSystemPrompt_True()
    {
        var request = new CanonicalChatRequest([new ChatMessage(ChatRole.System, Prose(250)), new ChatMessage(ChatRole.User, "Hi")], new ChatOptions(), false);

        Assert.True(AnthropicPromptCache.ShouldPlaceBreakpoints(request, "claude-sonnet-4-5"));
        Assert.False(AnthropicPromptCache.ShouldPlaceBreakpoints(request, "claude-haiku-4-5"));
    }

    [Fact]
    public void ShouldPlaceBreakpoints_ClientPlacedItsOwn_False()
    {
        var text = new TextContent(Prose(250)) { AdditionalProperties = new() { [CanonicalKeys.CacheControl] = "ephemeral" } };
        var request = new CanonicalChatRequest([new ChatMessage(ChatRole.System, [text]), new ChatMessage(ChatRole.User, "Hi")], new ChatOptions(), false);

        Assert.False(AnthropicPromptCache.ShouldPlaceBreakpoints(request, "claude-sonnet-4-5"));
    }

    /// <summary>English prose of about ten tokens a sentence (a repeated letter would compress to few tokens).</summary>
    private static string Prose(int sentences) => string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", sentences));
}
