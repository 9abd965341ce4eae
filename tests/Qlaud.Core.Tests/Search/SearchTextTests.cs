using Qlaud.Search;

namespace Qlaud.Core.Tests.Search;

public sealed class SearchTextTests
{
    [Fact]
    public void Extract_ContentBlocks_TextAndToolResultTextOnly()
    {
        const string Content = """
            [{"type":"text","text":"Hello"},{"type":"image","source":{"type":"base64","data":"AAAA"}},
             {"type":"tool_use","id":"t","name":"lookup","input":{"q":"secret"}},
             {"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"42 results"}]},
             {"type":"tool_result","tool_use_id":"u","content":"plain result"},{"type":"thinking","thinking":"hmm"}]
            """;

        Assert.Equal("Hello\n42 results\nplain result", SearchText.Extract(Content));
    }

    [Fact]
    public void Chunk_LongText_PiecesWithinLimitCoveringEveryWord()
    {
        string text = string.Join(' ', Enumerable.Range(0, 500).Select(static i => $"word{i}"));

        var chunks = SearchText.Chunk(text, 200);

        Assert.All(chunks, static c => Assert.InRange(c.Length, 1, 200));
        Assert.Equal(Enumerable.Range(0, 500).Select(static i => $"word{i}"), chunks.SelectMany(static c => c.Split(' ')).Distinct());
        Assert.Single(SearchText.Chunk("short text", 200));
        Assert.Empty(SearchText.Chunk("   ", 200));
    }

    [Theory]
    [InlineData("How do I reset my Password?", new[] { "reset", "password" })]
    [InlineData("the a of", new[] { "the", "a", "of" })]
    [InlineData("\"NEAR( AND* OR -NOT:", new[] { "near", "not" })]
    [InlineData("Café café CAFÉ", new[] { "café" })]
    [InlineData("DNS_PROBE_FINISHED_NXDOMAIN", new[] { "dns", "probe", "finished", "nxdomain" })]
    public void Terms_Query_DistinctLowerCaseWordsWithoutFunctionWords(string query, string[] expected)
        => Assert.Equal(expected, SearchText.Terms(query));

    [Fact]
    public void Fold_AccentsAndCase_AsTheKeywordIndexFolds() => Assert.Equal("senora cafe", SearchText.Fold("Señora CAFÉ"));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    public void MinimumShouldMatch_Terms_HalfRoundedUpBeyondTwo(int terms, int expected) => Assert.Equal(expected, SearchText.MinimumShouldMatch(terms));
}
