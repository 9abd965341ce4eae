using System.Text.Json;
using Qlaud.Threads;

namespace Qlaud.Core.Tests.Threads;

public sealed class ThreadSummaryPromptTests
{
    private static ContextMessage Message(string role, string contentJson) => new(role, contentJson, 10);

    [Fact]
    public void Transcript_TextToolCallAndToolResult_WrittenAsLinesWithBracketedNotes()
    {
        List<ContextMessage> folded =
        [
            Message("user", """[{"type":"text","text":"Weather in Oslo?"},{"type":"image","source":{"type":"url","url":"https://example.invalid/a.png"}}]"""),
            Message("assistant", """[{"type":"thinking","thinking":"hidden","signature":"s"},{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Oslo"}}]"""),
            Message("user", """[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"18 C"}]}]"""),
            Message("assistant", """[{"type":"text","text":"Sunny, 18 C."}]"""),
        ];

        string transcript = ThreadSummaryPrompt.Transcript(null, folded);

        Assert.Equal("""
            Conversation to summarize:
            User: Weather in Oslo? [image]
            Assistant: [called tool get_weather with {"city":"Oslo"}]
            User: [tool result: 18 C]
            Assistant: Sunny, 18 C.

            Write the summary.
            """.ReplaceLineEndings("\n"), transcript);
    }

    [Fact]
    public void Transcript_WithPreviousSummary_AsksForTheUpdatedSummary()
    {
        string transcript = ThreadSummaryPrompt.Transcript("Ann likes trains.", [Message("user", """[{"type":"text","text":"And boats."}]""")]);

        Assert.Equal("Summary so far:\nAnn likes trains.\n\nConversation since then:\nUser: And boats.\n\nWrite the updated summary.", transcript);
    }

    [Theory]
    [InlineData(null, "\"Summary of the earlier part of this conversation:\\nS.\"")]
    [InlineData("\"Be brief.\"", "\"Be brief.\\n\\nSummary of the earlier part of this conversation:\\nS.\"")]
    [InlineData("""[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}]""",
        """[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Summary of the earlier part of this conversation:\nS."}]""")]
    public void WithSummary_EachSystemShape_SummaryAddedAfterThePrompt(string? system, string expected)
    {
        var element = system is null ? default : JsonDocument.Parse(system).RootElement.Clone();

        var combined = ThreadSummaryPrompt.WithSummary(element, "S.");

        Assert.Equal(JsonDocument.Parse(expected).RootElement.GetRawText(), JsonDocument.Parse(combined.GetRawText()).RootElement.GetRawText());
    }

    [Fact]
    public void Request_IsAnAnthropicMessagesBodyForTheSummaryModel()
    {
        using var body = JsonDocument.Parse(ThreadSummaryPrompt.Request("cheap", 100, "T"));

        Assert.Equal("cheap", body.RootElement.GetProperty("model").GetString());
        Assert.Equal(100, body.RootElement.GetProperty("max_tokens").GetInt32());
        Assert.Equal(ThreadSummaryPrompt.Instructions, body.RootElement.GetProperty("system").GetString());
        Assert.Equal("T", body.RootElement.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public void ReplyText_JoinsTextBlocksOnly()
        => Assert.Equal("A summary.", ThreadSummaryPrompt.ReplyText("""[{"type":"thinking","thinking":"x"},{"type":"text","text":"A "},{"type":"text","text":"summary. "}]"""));
}
