namespace Qlaud.FakeProvider.Tests.Scripting;

public sealed class FakeReplyTests
{
    [Fact]
    public void Text_Always_IsACompletionWithThatContent()
    {
        var reply = FakeReply.Text("hi");

        Assert.Equal(FakeReplyKind.Completion, reply.Kind);
        Assert.Equal("hi", reply.Content);
        Assert.Empty(reply.ToolCalls);
        Assert.Null(reply.Reasoning);
    }

    [Fact]
    public void With_ChangedSetting_LeavesTheOriginalUntouched()
    {
        var original = FakeReply.Text("hi");

        var slow = original with { Latency = TimeSpan.FromSeconds(1) };

        Assert.Null(original.Latency);
        Assert.Equal(TimeSpan.FromSeconds(1), slow.Latency);
        Assert.Equal(FakeReplyKind.Completion, slow.Kind);
    }

    [Fact]
    public void RateLimited_FractionalSeconds_RoundsRetryAfterUp()
    {
        var reply = FakeReply.RateLimited(TimeSpan.FromMilliseconds(1500));

        Assert.Equal(FakeReplyKind.Error, reply.Kind);
        Assert.Equal(429, reply.StatusCode);
        Assert.Equal("2", reply.Headers!["Retry-After"]);
    }

    [Fact]
    public void ToolCall_NoCalls_Throws()
        => Assert.Throws<ArgumentException>(() => FakeReply.ToolCall());

    [Theory]
    [InlineData(200)]
    [InlineData(399)]
    [InlineData(600)]
    public void Error_NonErrorStatus_Throws(int status)
        => Assert.Throws<ArgumentOutOfRangeException>(() => FakeReply.Error(status));

    [Fact]
    public void CutOff_NegativeChunks_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => FakeReply.CutOff("x", -1));
}
