using System.Text;

namespace Qlaud.FakeProvider.Tests.Scripting;

public sealed class FakeScriptTests
{
    private static ReadOnlySpan<byte> Body(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void TryTake_BodyContainsMarker_TakesTheRuleRepliesInOrder()
    {
        var script = new FakeScript();
        script.Add("marker-1", [FakeReply.ToolCall("Read", """{"file_path":"/a"}"""), FakeReply.Text("done")]);

        Assert.True(script.TryTake(Body("""{"messages":[{"content":"marker-1 go"}]}"""), out var first));
        Assert.True(script.TryTake(Body("""{"messages":[{"content":"marker-1 go"},{"tool_result":"x"}]}"""), out var second));

        Assert.Equal("Read", Assert.Single(first.ToolCalls).Name);
        Assert.Equal("done", second.Content);
        Assert.Equal(0, script.Pending);
        Assert.False(script.TryTake(Body("marker-1"), out _));
    }

    [Fact]
    public void TryTake_OtherMarker_LeavesTheRuleAlone()
    {
        var script = new FakeScript();
        script.Add("marker-1", [FakeReply.Text("one")]);
        script.Add("marker-2", [FakeReply.Text("two")]);

        Assert.True(script.TryTake(Body("about marker-2"), out var reply));
        Assert.False(script.TryTake(Body("no marker here"), out _));

        Assert.Equal("two", reply.Content);
        Assert.Equal(1, script.Pending);
    }

    [Fact]
    public void TryTake_EmptyMatch_MatchesAnyBody()
    {
        var script = new FakeScript();
        script.Add("", [FakeReply.Text("any")]);

        Assert.True(script.TryTake(Body("{}"), out var reply));
        Assert.Equal("any", reply.Content);
    }

    [Fact]
    public void Clear_WithRules_ForgetsThem()
    {
        var script = new FakeScript();
        script.Add("m", [FakeReply.Text("a")]);

        script.Clear();

        Assert.Equal(0, script.Pending);
        Assert.False(script.TryTake(Body("m"), out _));
    }
}
