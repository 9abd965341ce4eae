using Qlaud.Threads;

namespace Qlaud.Core.Tests.Threads;

public sealed class ContextWindowTests
{
    private static (string Role, string ContentJson) User(string text) => ("user", $$"""[{"type":"text","text":"{{text}}"}]""");

    private static (string Role, string ContentJson) Assistant(string text) => ("assistant", $$"""[{"type":"text","text":"{{text}}"}]""");

    private static readonly (string Role, string ContentJson) ToolUse = ("assistant", """[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]""");

    private static readonly (string Role, string ContentJson) ToolResult = ("user", """[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]""");

    [Fact]
    public void Fit_EverythingFits_SendsAll()
    {
        var (first, tokens) = ContextWindow.Fit([User("a"), Assistant("b"), User("c")], 0, 10, 1000);

        Assert.Equal(0, first);
        Assert.True(tokens > 0);
    }

    [Fact]
    public void Fit_OverTheWindow_DropsWholeOldestTurns()
    {
        string big = new('x', 400); // about 100 tokens
        List<(string, string)> messages = [User(big), Assistant(big), User("short"), Assistant("ok"), User("now")];

        var (first, tokens) = ContextWindow.Fit(messages, 0, 50, 150);

        Assert.Equal(2, first);
        Assert.True(tokens + 50 <= 150);
    }

    [Fact]
    public void Fit_ToolResultFollowsItsToolUse_BothDroppedWithTheirTurn()
    {
        string big = new('x', 400);
        List<(string, string)> messages = [User(big), ToolUse, ToolResult, Assistant("done"), User("next")];

        var (first, _) = ContextWindow.Fit(messages, 0, 50, 120);

        Assert.Equal(4, first); // never 2: the tool result would lose its tool_use
    }

    [Fact]
    public void Fit_NewTurnIsAToolResult_KeepsTheTurnThatAskedForIt()
    {
        List<(string, string)> messages = [User(new string('x', 400)), User("q"), ToolUse, ToolResult];

        var (first, _) = ContextWindow.Fit(messages, 0, 10, 60);

        Assert.Equal(1, first);
    }

    [Fact]
    public void Fit_NewTurnAloneTooLarge_MinusOne()
    {
        var (first, _) = ContextWindow.Fit([User("a"), Assistant("b"), User(new string('x', 4000))], 0, 10, 100);

        Assert.Equal(-1, first);
    }

    [Fact]
    public void Fit_FixedTokens_CountAgainstTheWindow()
    {
        List<(string, string)> messages = [User("a"), Assistant("b"), User("c")];

        Assert.Equal(0, ContextWindow.Fit(messages, 0, 10, 40).First);
        Assert.Equal(2, ContextWindow.Fit(messages, 20, 10, 40).First);
    }

    [Fact]
    public void Estimate_InvalidBlock_ThrowsDialectException()
        => Assert.Throws<Qlaud.Dialects.DialectException>(() => ContextWindow.Estimate("user", """[{"type":"image"}]"""));

    [Fact]
    public void Fit_StoredCounts_UsedAsTheyAreWithoutRecounting()
    {
        // Counts larger than the text: the fit believes them, as a turn believes the counts stored with its messages.
        List<ContextMessage> messages = [new("user", User("a").ContentJson, 500, 0), new("assistant", Assistant("b").ContentJson, 10, 1), new("user", User("c").ContentJson, 10)];

        var (first, tokens) = ContextWindow.Fit(messages, 0, 10, 100);

        Assert.Equal(2, first);
        Assert.Equal(10, tokens);
    }

    [Fact]
    public void NextTurn_SkipsToolResults_StopsAtTheNextUserTurn()
    {
        List<ContextMessage> messages = [new("user", User("q").ContentJson, 1), new("assistant", ToolUse.ContentJson, 1), new("user", ToolResult.ContentJson, 1),
            new("assistant", Assistant("a").ContentJson, 1), new("user", User("next").ContentJson, 1)];

        Assert.Equal(4, ContextWindow.NextTurn(messages, 0));
        Assert.Equal(5, ContextWindow.NextTurn(messages, 4));
    }
}
