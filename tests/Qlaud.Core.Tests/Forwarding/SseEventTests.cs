using System.Text;
using Qlaud.Forwarding;

namespace Qlaud.Core.Tests.Forwarding;

public sealed class SseEventTests
{
    [Theory]
    [InlineData("data: a\n\ndata: b\n\n", 9)]
    [InlineData("data: a\r\n\r\ndata: b", 11)]
    [InlineData("event: x\ndata: a\n\n", 18)]
    [InlineData("data: a\n", -1)]
    [InlineData("data: a", -1)]
    public void FindEventEnd_ReturnsIndexAfterBlankLine(string text, int expected)
        => Assert.Equal(expected, SseEvent.FindEventEnd(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Parse_EventAndData_Split()
    {
        int lines = SseEvent.Parse("event: message_start\ndata: {\"a\":1}\n\n"u8, out var type, out var data);
        Assert.Equal(1, lines);
        Assert.Equal("message_start", Encoding.UTF8.GetString(type));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(data));
    }

    [Fact]
    public void Parse_Comment_HasNoData()
        => Assert.Equal(0, SseEvent.Parse(": OPENROUTER PROCESSING\n\n"u8, out _, out _));

    [Fact]
    public void JoinData_MultiLine_JoinedWithNewline()
        => Assert.Equal("a\nb", Encoding.UTF8.GetString(SseEvent.JoinData("data: a\r\ndata:b\n\n"u8)));
}
