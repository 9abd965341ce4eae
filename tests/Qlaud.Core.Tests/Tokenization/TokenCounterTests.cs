using Qlaud.Tokenization;

namespace Qlaud.Core.Tests.Tokenization;

public sealed class TokenCounterTests
{
    [Theory]
    [InlineData("gpt-4o", "O200k")]
    [InlineData("gpt-4o-mini", "O200k")]
    [InlineData("gpt-4.1", "O200k")]
    [InlineData("gpt-5", "O200k")]
    [InlineData("o3-mini", "O200k")]
    [InlineData("openai/gpt-4.1-mini", "O200k")]
    [InlineData("gpt-4", "Cl100k")]
    [InlineData("gpt-4-turbo", "Cl100k")]
    [InlineData("gpt-3.5-turbo", "Cl100k")]
    [InlineData("deepseek-chat", "Cl100k")]
    [InlineData("claude-sonnet-5", "Cl100k")]
    [InlineData(null, "Cl100k")]
    public void EncodingFor_ModelFamily_PicksTheEncoding(string? model, string expected)
        => Assert.Equal(Enum.Parse<TokenEncoding>(expected), TokenCounter.EncodingFor(model));

    [Theory]
    [InlineData("gpt-4o", true)]
    [InlineData("o1", true)]
    [InlineData("deepseek-chat", false)]
    [InlineData("claude-haiku-4-5", false)]
    [InlineData("ollama-3", false)]
    public void IsOpenAIFamily_ModelId_OnlyOpenAIModels(string model, bool expected)
        => Assert.Equal(expected, TokenCounter.IsOpenAIFamily(model));

    [Theory]
    [InlineData("O200k")]
    [InlineData("Cl100k")]
    public void Count_ShortPrompt_IsTheTokenizersCount(string name)
    {
        var encoding = Enum.Parse<TokenEncoding>(name);
        Assert.Equal(3, TokenCounter.Count("Hello, world", encoding));
        Assert.Equal(0, TokenCounter.Count("", encoding));
    }

    [Fact]
    public void CountUtf8_LongNonAsciiText_EqualsCountOfTheDecodedText()
    {
        string text = string.Concat(Enumerable.Repeat("Grüße aus Köln, 東京 und Zürich. ", 200));

        Assert.Equal(TokenCounter.Count(text, TokenEncoding.O200k), TokenCounter.CountUtf8(System.Text.Encoding.UTF8.GetBytes(text), TokenEncoding.O200k));
    }

    [Fact]
    public void WithNonOpenAIMargin_AddsThirtyFivePercentRoundedUp()
    {
        Assert.Equal(135, TokenCounter.WithNonOpenAIMargin(100));
        Assert.Equal(2, TokenCounter.WithNonOpenAIMargin(1));
        Assert.Equal(0, TokenCounter.WithNonOpenAIMargin(0));
    }

    [Fact]
    public void Count_LongTextCountedAgainFromAnotherInstance_SameCountAsTheTokenizer()
    {
        string text = string.Concat(Enumerable.Repeat("Tools and system prompts come back on every turn of an agent loop. ", 40));

        int first = TokenCounter.Count(text, TokenEncoding.Cl100k);
        int again = TokenCounter.Count(new string(text.AsSpan()), TokenEncoding.Cl100k);

        Assert.Equal(TokenCounter.Count(text.AsSpan(), TokenEncoding.Cl100k), first);
        Assert.Equal(first, again);
        Assert.Equal(TokenCounter.Count(text.AsSpan(), TokenEncoding.O200k), TokenCounter.Count(text, TokenEncoding.O200k)); // each encoding has its own entries
    }

    [Fact]
    public void CountCache_OverItsCharacterBudget_StartsAfreshAndKeepsAnswering()
    {
        var cache = new CountCache();
        string big = new('a', (int)(CountCache.MaxChars / 2) + 1);
        cache.Add(big, 1);
        cache.Add(big + "b", 2);

        Assert.False(cache.TryGet(big, out _));
        Assert.True(cache.TryGet(big + "b", out int tokens));
        Assert.Equal(2, tokens);
    }
}
