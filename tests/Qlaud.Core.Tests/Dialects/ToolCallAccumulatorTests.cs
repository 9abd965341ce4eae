using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;

namespace Qlaud.Core.Tests.Dialects;

public sealed class ToolCallAccumulatorTests
{
    [Fact]
    public void Complete_InterleavedFragmentsOfTwoCalls_ReturnsWholeCallsWithParsedArguments()
    {
        var accumulator = new ToolCallAccumulator();
        accumulator.Add(new ToolCallDeltaContent { Index = 0, CallId = "a", Name = "get_weather" });
        accumulator.Add(new ToolCallDeltaContent { Index = 1, CallId = "b", Name = "get_time", ArgumentsDelta = "{\"tz\"" });
        accumulator.Add(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "{\"city\":\"Par" });
        accumulator.Add(new ToolCallDeltaContent { Index = 1, ArgumentsDelta = ":\"UTC\"}" });
        accumulator.Add(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "is\",\"days\":3}" });

        var calls = accumulator.Complete();

        Assert.Equal(0, accumulator.Count);
        Assert.Collection(
            calls,
            c =>
            {
                Assert.Equal(("a", "get_weather"), (c.CallId, c.Name));
                Assert.Equal("Paris", ((JsonElement)c.Arguments!["city"]!).GetString());
                Assert.Equal(3, ((JsonElement)c.Arguments!["days"]!).GetInt32());
            },
            c => Assert.Equal(("b", "get_time", "UTC"), (c.CallId, c.Name, ((JsonElement)c.Arguments!["tz"]!).GetString())));
    }

    [Fact]
    public void Add_NewCallIdOnUsedIndex_StartsAnotherCall()
    {
        var accumulator = new ToolCallAccumulator();
        accumulator.Add(new ToolCallDeltaContent { Index = 0, CallId = "a", Name = "f", ArgumentsDelta = "{}" });
        accumulator.Add(new ToolCallDeltaContent { Index = 0, CallId = "b", Name = "g", ArgumentsDelta = "{}" });

        var calls = accumulator.Complete();

        Assert.Equal(["a", "b"], calls.Select(c => c.CallId));
    }

    [Fact]
    public void Complete_ArgumentsNotAJsonObject_KeepsRawTextAndReportsIt()
    {
        var accumulator = new ToolCallAccumulator();
        accumulator.Add(new ToolCallDeltaContent { Index = 0, CallId = "a", Name = "f", ArgumentsDelta = "{\"x\": tru" });

        var call = Assert.Single(accumulator.Complete());

        Assert.Null(call.Arguments);
        Assert.IsType<InvalidOperationException>(call.Exception);
        Assert.Equal("{\"x\": tru", call.AdditionalProperties?[CanonicalKeys.RawArguments]);
        Assert.Equal("{\"x\": tru", CanonicalJson.GetArgumentsText(call));
    }

    [Fact]
    public void Complete_NoArgumentsText_GivesEmptyArguments()
    {
        var accumulator = new ToolCallAccumulator();
        accumulator.Add(new ToolCallDeltaContent { Index = 0, CallId = "a", Name = "now" });

        var call = Assert.Single(accumulator.Complete());

        Assert.NotNull(call.Arguments);
        Assert.Empty(call.Arguments);
        Assert.Null(call.Exception);
    }

    [Fact]
    public void Process_FragmentsThenFinish_RemovesFragmentsAndAppendsCallsToFinishingUpdate()
    {
        var accumulator = new ToolCallAccumulator();
        var first = new ChatResponseUpdate(ChatRole.Assistant, [new TextContent("Looking."), new ToolCallDeltaContent { Index = 0, CallId = "a", Name = "f", ArgumentsDelta = "{\"q\":1}" }]);
        var second = new ChatResponseUpdate(ChatRole.Assistant, [new ToolCallDeltaContent { Index = 1, CallId = "b", Name = "g" }]);
        var finish = new ChatResponseUpdate { FinishReason = ChatFinishReason.ToolCalls };

        Assert.True(accumulator.Process(first));
        Assert.False(accumulator.Process(second));
        Assert.True(accumulator.Process(finish));

        Assert.IsType<TextContent>(Assert.Single(first.Contents));
        Assert.Empty(second.Contents);
        Assert.Equal(["a", "b"], finish.Contents.Cast<FunctionCallContent>().Select(c => c.CallId));
        Assert.Equal(0, accumulator.Count);
    }
}
