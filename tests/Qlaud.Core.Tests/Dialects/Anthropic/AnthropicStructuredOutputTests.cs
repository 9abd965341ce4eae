using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using Qlaud.Dialects.OpenAI;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicStructuredOutputTests
{
    private const string Schema = """{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}""";

    private static CatalogRoute Route(string dialect, ModelCapabilities capabilities = ModelCapabilities.None)
    {
        var provider = new CatalogProvider("p", dialect, new Uri("http://127.0.0.1:9/v1"), ImmutableDictionary<string, string>.Empty, true, TimeSpan.FromSeconds(1));
        return new CatalogRoute("m", provider, "claude-x", new ModelPrice(1, 1, 0, 0)) { Capabilities = capabilities, CapabilitiesDeclared = true };
    }

    private static CanonicalChatRequest Request(string responseFormat) =>
        OpenAIDialect.Instance.ReadRequest(Utf8($$$"""{"model":"m","messages":[{"role":"user","content":"count"}],"response_format":{{{responseFormat}}}}"""));

    private static JsonElement Written(CanonicalChatRequest request)
        => Parse(Write(w => AnthropicDialect.Instance.WriteRequest(w, request, "claude-x")));

    [Fact]
    public void For_OpenAIRouteOrNoFormat_IsNull()
    {
        Assert.Null(AnthropicStructuredOutput.For(Request("""{"type":"json_object"}"""), Route("openai")));
        Assert.Null(AnthropicStructuredOutput.For(Request("""{"type":"text"}"""), Route("anthropic")));
    }

    [Fact]
    public void For_StrictSchemaWithCapability_WritesOutputConfigFormatKeepingEffort()
    {
        var request = Request($$$"""{"type":"json_schema","json_schema":{"name":"count","strict":true,"schema":{{{Schema}}}}}""");
        request.Options.AdditionalProperties![AnthropicDialect.KeyPrefix + "output_config"] = Parse("""{"effort":"low"}""");

        var plan = AnthropicStructuredOutput.For(request, Route("anthropic", ModelCapabilities.StructuredOutputs))!;

        Assert.Null(plan.ToolName);
        var body = Written(plan.Request);
        Assert.Equal($$$"""{"effort":"low","format":{"type":"json_schema","schema":{{{Schema}}}}}""", body.GetProperty("output_config").GetRawText());
        Assert.False(body.TryGetProperty("tools", out _));
    }

    [Fact]
    public void For_StrictSchemaWithoutCapability_ForcesTheSchemaTool()
    {
        var plan = AnthropicStructuredOutput.For(Request($$$"""{"type":"json_schema","json_schema":{"name":"count","strict":true,"schema":{{{Schema}}}}}"""), Route("anthropic"))!;

        Assert.Equal("count", plan.ToolName);
        var body = Written(plan.Request);
        Assert.Equal(Schema, body.GetProperty("tools")[0].GetProperty("input_schema").GetRawText());
        Assert.Equal("""{"type":"tool","name":"count"}""", body.GetProperty("tool_choice").GetRawText());
        Assert.False(body.TryGetProperty("output_config", out _));
    }

    [Fact]
    public void Apply_ForcedToolCall_BecomesTextWithStop()
    {
        var plan = AnthropicStructuredOutput.For(Request("""{"type":"json_object"}"""), Route("anthropic"))!;
        var response = AnthropicDialect.Instance.ReadResponse(Utf8("""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"tool_use","id":"toolu_1","name":"json_response","input":{"n":3,"list":[1,"a",null]}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":7}}
            """));

        plan.Apply(response);

        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        var text = Assert.IsType<TextContent>(Assert.Single(response.Messages[0].Contents));
        Assert.Equal("""{"n":3,"list":[1,"a",null]}""", text.Text);
    }

    [Fact]
    public void Wrap_StreamedForcedTool_ArgumentFragmentsBecomeTextAndFinishIsStop()
    {
        var plan = AnthropicStructuredOutput.For(Request($$$"""{"type":"json_schema","json_schema":{"name":"count","schema":{{{Schema}}}}}"""), Route("anthropic"))!;
        var decoder = plan.Wrap(AnthropicDialect.Instance.CreateStreamDecoder());
        string[] events =
        [
            """{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}""",
            """{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"count","input":{}}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"n\":"}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"3}"}}""",
            """{"type":"content_block_stop","index":0}""",
            """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}}""",
            """{"type":"message_stop"}""",
        ];
        var updates = new List<ChatResponseUpdate>();
        foreach (string e in events)
        {
            decoder.Decode(Encoding.UTF8.GetBytes(JsonElement.Parse(e).GetProperty("type").GetString()!), Encoding.UTF8.GetBytes(e), updates);
        }

        var contents = updates.SelectMany(static u => u.Contents).ToList();
        Assert.DoesNotContain(contents, static c => c is ToolCallDeltaContent);
        Assert.Equal("""{"n":3}""", string.Concat(contents.OfType<TextContent>().Select(static t => t.Text)));
        Assert.Equal(ChatFinishReason.Stop, updates.Last(static u => u.FinishReason is not null).FinishReason);
        Assert.True(decoder.Completed);
    }
}
