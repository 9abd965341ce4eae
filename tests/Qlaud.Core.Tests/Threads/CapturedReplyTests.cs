using System.Text;
using Qlaud.Threads;

namespace Qlaud.Core.Tests.Threads;

public sealed class CapturedReplyTests
{
    private static string Event(string type, string json) => $"event: {type}\ndata: {json}\n\n";

    private static readonly string Start = Event("message_start", """{"type":"message_start","message":{"id":"msg_up","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}""");

    [Fact]
    public void FromStream_TextAndToolUse_RebuildsTheBlocksAndUsage()
    {
        string sse = Start
            + Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""")
            + Event("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}""")
            + Event("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}""")
            + Event("content_block_stop", """{"type":"content_block_stop","index":0}""")
            + Event("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}""")
            + Event("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}""")
            + Event("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}""")
            + Event("content_block_stop", """{"type":"content_block_stop","index":1}""")
            + Event("message_delta", """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}}""")
            + Event("message_stop", """{"type":"message_stop"}""");

        var reply = CapturedReply.FromStream(Encoding.UTF8.GetBytes(sse));

        Assert.Equal("""[{"type":"text","text":"Hello"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}]""", reply.ContentJson);
        Assert.Equal("tool_use", reply.StopReason);
        Assert.True(reply.Complete);
        Assert.Equal(10, reply.Usage!.Value.Input);
        Assert.Equal(7, reply.Usage!.Value.Output);
        Assert.Equal("msg_up", reply.MessageId);
    }

    [Fact]
    public void FromStream_CutMidToolCall_KeepsTheTextAndLeavesOutTheUnfinishedCall()
    {
        string sse = Start
            + Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""")
            + Event("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check"}}""")
            + Event("content_block_stop", """{"type":"content_block_stop","index":0}""")
            + Event("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}""")
            + Event("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}""")
            + "event: content_block_delta\ndata: {\"type\":\"content_bl"; // the connection went away here

        var reply = CapturedReply.FromStream(Encoding.UTF8.GetBytes(sse));

        Assert.Equal("""[{"type":"text","text":"Let me check"}]""", reply.ContentJson);
        Assert.False(reply.Complete);
        Assert.Null(reply.StopReason);
    }

    [Fact]
    public void FromMessage_WholeAnswer_ContentStopReasonAndUsage()
    {
        var reply = CapturedReply.FromMessage("""{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"cache_read_input_tokens":2,"output_tokens":1}}"""u8);

        Assert.Equal("""[{"type":"text","text":"Hi"}]""", reply!.ContentJson);
        Assert.Equal("end_turn", reply.StopReason);
        Assert.Equal(5, reply.Usage!.Value.Input);
        Assert.Equal(2, reply.Usage!.Value.CacheRead);
    }

    [Fact]
    public void FromMessage_NotAMessage_Null() => Assert.Null(CapturedReply.FromMessage("""{"type":"error"}"""u8));
}
