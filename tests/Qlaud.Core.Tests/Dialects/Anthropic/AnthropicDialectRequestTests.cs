using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicDialectRequestTests
{
    private static readonly AnthropicDialect s_dialect = AnthropicDialect.Instance;

    private static CanonicalChatRequest Read(string json) => s_dialect.ReadRequest(Utf8(json));

    private static string WriteRequest(CanonicalChatRequest request, string model = "claude-sonnet-4-5") =>
        Write(w => s_dialect.WriteRequest(w, request, model));

    private static CanonicalChatRequest Canonical(ChatOptions? options, params ChatMessage[] messages) =>
        new(messages, options ?? new ChatOptions(), Stream: false);

    [Fact]
    public void ReadRequest_CodingAgentRequest_RoundTripsToEquivalentJson()
    {
        var request = Read(AnthropicFixtures.CodingAgentRequest);

        string written = WriteRequest(request, "claude-sonnet-4-5-20250929");

        Equal(AnthropicFixtures.CodingAgentRequest, written);
    }

    [Fact]
    public void ReadRequest_CodingAgentRequest_MapsOptionsToCanonical()
    {
        var request = Read(AnthropicFixtures.CodingAgentRequest);
        var options = request.Options;

        Assert.True(request.Stream);
        Assert.Equal("claude-sonnet-4-5-20250929", options.ModelId);
        Assert.Equal(32000, options.MaxOutputTokens);
        Assert.Equal(1f, options.Temperature);
        Assert.Equal("user_3f9a_account_71c2_session_0b1d", options.AdditionalProperties![CanonicalKeys.EndUser]);
        Assert.Equal(ReasoningEffort.Medium, options.Reasoning!.Effort);
        var thinking = Assert.IsType<JsonElement>(options.AdditionalProperties["anthropic:thinking"]);
        Assert.Equal(10000, thinking.GetProperty("budget_tokens").GetInt32());
        Assert.Equal("auto", Assert.IsType<JsonElement>(options.AdditionalProperties["anthropic:service_tier"]).GetString());
        Assert.True(options.AdditionalProperties.ContainsKey("anthropic:context_management"));
        Assert.False(options.AdditionalProperties.ContainsKey("anthropic:metadata"));

        Assert.Equal(10, options.Tools!.Count);
        var bash = Assert.IsType<AnthropicToolDeclaration>(options.Tools[1]);
        Assert.Equal("Bash", bash.Name);
        Assert.StartsWith("Executes a given bash command", bash.Description);
        Assert.Equal("command", bash.JsonSchema.GetProperty("required")[0].GetString());
        var webSearch = Assert.IsType<AnthropicServerTool>(options.Tools[8]);
        Assert.Equal("web_search", webSearch.Name);
        Assert.Equal("web_search_20250305", webSearch.ToolType);
        var todo = Assert.IsType<AnthropicToolDeclaration>(options.Tools[9]);
        Assert.Equal("ephemeral", Assert.IsType<JsonElement>(todo.AdditionalProperties[CanonicalKeys.CacheControl]).GetProperty("type").GetString());
    }

    [Fact]
    public void ReadRequest_CodingAgentRequest_MapsConversationToCanonical()
    {
        var messages = Read(AnthropicFixtures.CodingAgentRequest).Messages;

        // system, user, assistant, tool, assistant, tool + user (split), assistant, tool
        Assert.Equal(
            [ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant, ChatRole.Tool, ChatRole.User, ChatRole.Assistant, ChatRole.Tool],
            messages.Select(m => m.Role));

        var system = messages[0].Contents;
        Assert.Equal(2, system.Count);
        Assert.StartsWith("You are Claude Code", Assert.IsType<TextContent>(system[0]).Text);
        Assert.True(system[1].AdditionalProperties!.ContainsKey(CanonicalKeys.CacheControl));

        var firstTurn = messages[2].Contents;
        var thinking = Assert.IsType<TextReasoningContent>(firstTurn[0]);
        Assert.StartsWith("The user wants me to fix", thinking.Text);
        Assert.StartsWith("EqQBCkYIBxgCKkAZ3sQ2", thinking.ProtectedData);
        var bash = Assert.IsType<FunctionCallContent>(firstTurn[2]);
        Assert.Equal("toolu_01A09q90qw90lq917835lq9", bash.CallId);
        Assert.Equal("Bash", bash.Name);
        Assert.Equal("npm test -- calc", ((JsonElement)bash.Arguments!["command"]!).GetString());

        var failed = Assert.IsType<FunctionResultContent>(Assert.Single(messages[3].Contents));
        Assert.Equal("toolu_01A09q90qw90lq917835lq9", failed.CallId);
        Assert.StartsWith("FAIL src/calc.test.ts", Assert.IsType<string>(failed.Result));
        Assert.Equal(true, failed.AdditionalProperties![CanonicalKeys.IsError]);

        var redacted = Assert.IsType<TextReasoningContent>(messages[4].Contents[0]);
        Assert.Equal("", redacted.Text);
        Assert.StartsWith("EmwKAhgBEgy3va3pzix", redacted.ProtectedData);
        Assert.Equal(true, redacted.AdditionalProperties![CanonicalKeys.Redacted]);
        Assert.Equal(2, messages[4].Contents.OfType<FunctionCallContent>().Count());

        var results = messages[5].Contents.Cast<FunctionResultContent>().ToList();
        Assert.Equal(2, results.Count);
        var blocks = Assert.IsType<List<AIContent>>(results[0].Result);
        Assert.StartsWith("     1\texport const add", Assert.IsType<TextContent>(Assert.Single(blocks)).Text);
        Assert.False(results[0].AdditionalProperties?.ContainsKey(CanonicalKeys.IsError) ?? false);
        Assert.StartsWith("<system-reminder>", Assert.IsType<TextContent>(Assert.Single(messages[6].Contents)).Text);

        var edit = Assert.IsType<FunctionCallContent>(messages[7].Contents[1]);
        Assert.True(edit.AdditionalProperties!.ContainsKey(CanonicalKeys.CacheControl));
    }

    [Fact]
    public void WriteRequest_SignedAndRedactedThinking_KeptInOrderBeforeToolUse()
    {
        var request = Canonical(
            new ChatOptions { MaxOutputTokens = 1024 },
            new ChatMessage(ChatRole.User, "What is 2+2? Use the calculator."),
            new ChatMessage(ChatRole.Assistant,
            [
                new TextReasoningContent("I should use the calculator.") { ProtectedData = "sig-1" },
                new TextReasoningContent("") { ProtectedData = "opaque", AdditionalProperties = new() { [CanonicalKeys.Redacted] = true } },
                new TextContent("Let me calculate."),
                new FunctionCallContent("toolu_1", "calc", new Dictionary<string, object?> { ["expression"] = "2+2" }),
            ]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("toolu_1", "4")]));

        string json = WriteRequest(request);

        Equal("""
        {
          "model": "claude-sonnet-4-5",
          "max_tokens": 1024,
          "messages": [
            { "role": "user", "content": "What is 2+2? Use the calculator." },
            { "role": "assistant", "content": [
              { "type": "thinking", "thinking": "I should use the calculator.", "signature": "sig-1" },
              { "type": "redacted_thinking", "data": "opaque" },
              { "type": "text", "text": "Let me calculate." },
              { "type": "tool_use", "id": "toolu_1", "name": "calc", "input": { "expression": "2+2" } }
            ] },
            { "role": "user", "content": [ { "type": "tool_result", "tool_use_id": "toolu_1", "content": "4" } ] }
          ]
        }
        """, json);
    }

    [Fact]
    public void WriteRequest_UnsignedReasoningFromOtherProvider_IsDropped()
    {
        var request = Canonical(
            new ChatOptions { MaxOutputTokens = 2048 },
            new ChatMessage(ChatRole.User, "Read a.cs"),
            new ChatMessage(ChatRole.Assistant,
            [
                new TextReasoningContent("DeepSeek reasoning_content, no signature"),
                new TextContent(""),
                new FunctionCallContent("call_0", "read_file", new Dictionary<string, object?> { ["path"] = "a.cs" }),
            ]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_0", "class A {}")]),
            new ChatMessage(ChatRole.Assistant, [new TextReasoningContent("only reasoning, nothing else")]),
            new ChatMessage(ChatRole.User, "Thanks"));

        string json = WriteRequest(request);

        Assert.DoesNotContain("thinking", json, StringComparison.Ordinal);
        Equal("""
        {
          "model": "claude-sonnet-4-5",
          "max_tokens": 2048,
          "messages": [
            { "role": "user", "content": "Read a.cs" },
            { "role": "assistant", "content": [ { "type": "tool_use", "id": "call_0", "name": "read_file", "input": { "path": "a.cs" } } ] },
            { "role": "user", "content": [
              { "type": "tool_result", "tool_use_id": "call_0", "content": "class A {}" },
              { "type": "text", "text": "Thanks" }
            ] }
          ]
        }
        """, json);
    }

    [Fact]
    public void WriteRequest_ToolChoiceWithoutTools_IsOmitted()
    {
        var request = Canonical(
            new ChatOptions { ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = false, MaxOutputTokens = 100 },
            new ChatMessage(ChatRole.User, "hi"));

        var root = Parse(WriteRequest(request));

        Assert.False(root.TryGetProperty("tool_choice", out _));
        Assert.False(root.TryGetProperty("tools", out _));
    }

    [Theory]
    [InlineData("auto", null, """{"type":"auto"}""")]
    [InlineData("any", null, """{"type":"any"}""")]
    [InlineData("none", null, """{"type":"none"}""")]
    [InlineData("tool", null, """{"type":"tool","name":"get_weather"}""")]
    [InlineData("auto", false, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData(null, false, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData("any", true, """{"type":"any","disable_parallel_tool_use":false}""")]
    public void WriteRequest_ToolModeWithTools_WritesToolChoice(string? mode, bool? allowMultiple, string expected)
    {
        var options = new ChatOptions
        {
            MaxOutputTokens = 100,
            Tools = [AIFunctionFactory.CreateDeclaration("get_weather", "Weather", Parse("""{"type":"object","properties":{"city":{"type":"string"}}}"""))],
            ToolMode = mode switch
            {
                "auto" => ChatToolMode.Auto,
                "any" => ChatToolMode.RequireAny,
                "none" => ChatToolMode.None,
                "tool" => ChatToolMode.RequireSpecific("get_weather"),
                _ => null,
            },
            AllowMultipleToolCalls = allowMultiple,
        };

        var root = Parse(WriteRequest(Canonical(options, new ChatMessage(ChatRole.User, "hi"))));

        Equal(expected, root.GetProperty("tool_choice").GetRawText());
        Equal("""[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]""",
            root.GetProperty("tools").GetRawText());
    }

    [Theory]
    [InlineData("""{"type":"auto"}""")]
    [InlineData("""{"type":"any","disable_parallel_tool_use":true}""")]
    [InlineData("""{"type":"tool","name":"get_weather","disable_parallel_tool_use":false}""")]
    [InlineData("""{"type":"none"}""")]
    public void ReadRequest_ToolChoice_RoundTrips(string toolChoice)
    {
        string json = """
        {"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],
         "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"tool_choice":
        """ + toolChoice + "}";

        Equal(json, WriteRequest(Read(json), "m"));
    }

    [Fact]
    public void ReadRequest_CustomToolExtraFields_RoundTrip()
    {
        const string json = """
        {"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],
         "tools":[{"type":"custom","name":"lookup","description":"","input_schema":{"type":"object"},"strict":true,"input_examples":[{"id":1}]}]}
        """;

        var request = Read(json);
        var tool = Assert.IsType<AnthropicToolDeclaration>(Assert.Single(request.Options.Tools!));

        Assert.True(tool.AdditionalProperties.ContainsKey("anthropic:strict"));
        Equal(json.Replace("\"description\":\"\",", "", StringComparison.Ordinal), WriteRequest(request, "m"));
    }

    [Fact]
    public void ReadRequest_ToolChoiceAny_MapsToRequireAnyWithoutParallelCalls()
    {
        var options = Read("""
        {"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],
         "tools":[{"name":"t","input_schema":{"type":"object"}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}
        """).Options;

        Assert.Equal(ChatToolMode.RequireAny, options.ToolMode);
        Assert.False(options.AllowMultipleToolCalls);
    }

    [Fact]
    public void ReadRequest_AdaptiveThinkingAndUnknownFields_PassThroughVerbatim()
    {
        const string json = """
        {
          "model": "claude-opus-4-6",
          "max_tokens": 64000,
          "thinking": { "type": "adaptive" },
          "output_config": { "effort": "medium" },
          "container": "container_011CQ2S5xB9jXYnEmkK6vRDr",
          "mcp_servers": [ { "type": "url", "url": "https://mcp.invalid/sse", "name": "tracker", "authorization_token": "tok" } ],
          "inference_geo": "us",
          "some_future_field": { "nested": [1, 2, { "x": null }] },
          "messages": [ { "role": "user", "content": "hello" } ]
        }
        """;

        var request = Read(json);
        var extras = request.Options.AdditionalProperties!;

        Assert.Equal(ReasoningEffort.Medium, request.Options.Reasoning!.Effort);
        Assert.Equal("adaptive", Assert.IsType<JsonElement>(extras["anthropic:thinking"]).GetProperty("type").GetString());
        Assert.IsType<JsonElement>(extras["anthropic:container"]);
        Assert.IsType<JsonElement>(extras["anthropic:mcp_servers"]);
        Assert.IsType<JsonElement>(extras["anthropic:some_future_field"]);
        Equal(json, WriteRequest(request, "claude-opus-4-6"));
    }

    [Theory]
    [InlineData("""{"type":"enabled","budget_tokens":1024}""", ReasoningEffort.Low)]
    [InlineData("""{"type":"enabled","budget_tokens":8192}""", ReasoningEffort.Medium)]
    [InlineData("""{"type":"enabled","budget_tokens":16384}""", ReasoningEffort.High)]
    [InlineData("""{"type":"enabled","budget_tokens":63999}""", ReasoningEffort.ExtraHigh)]
    [InlineData("""{"type":"adaptive"}""", ReasoningEffort.High)]
    [InlineData("""{"type":"disabled"}""", ReasoningEffort.None)]
    public void ReadRequest_Thinking_MapsToReasoningEffort(string thinking, ReasoningEffort effort)
    {
        var options = Read("""{"model":"m","max_tokens":64000,"messages":[],"thinking":""" + thinking + "}").Options;

        Assert.Equal(effort, options.Reasoning!.Effort);
    }

    [Fact]
    public void WriteRequest_ReasoningEffortWithoutAnthropicThinking_WritesThinkingBudget()
    {
        var options = new ChatOptions { MaxOutputTokens = 32000, Reasoning = new ReasoningOptions { Effort = ReasoningEffort.High } };

        var root = Parse(WriteRequest(Canonical(options, new ChatMessage(ChatRole.User, "hi"))));

        Equal("""{"type":"enabled","budget_tokens":16384}""", root.GetProperty("thinking").GetRawText());
    }

    [Fact]
    public void WriteRequest_ReasoningEffortWithTemperature_WritesNoThinking()
    {
        var options = new ChatOptions { MaxOutputTokens = 32000, Temperature = 0.2f, Reasoning = new ReasoningOptions { Effort = ReasoningEffort.High } };

        var root = Parse(WriteRequest(Canonical(options, new ChatMessage(ChatRole.User, "hi"))));

        Assert.False(root.TryGetProperty("thinking", out _));
        Assert.Equal(0.2, root.GetProperty("temperature").GetDouble(), 5);
    }

    [Fact]
    public void WriteRequest_OpenAIStyleConversation_GroupsToolResultsAndHoistsSystem()
    {
        var request = Canonical(
            new ChatOptions
            {
                MaxOutputTokens = 500,
                StopSequences = ["\n\nHuman:"],
                TopP = 0.9f,
                TopK = 40,
                AdditionalProperties = new()
                {
                    [CanonicalKeys.EndUser] = "end-user-42",
                    ["openai:logprobs"] = true,
                    ["openai:seed"] = 7,
                    ["anthropic:service_tier"] = "standard_only",
                },
            },
            new ChatMessage(ChatRole.System, "You are terse."),
            new ChatMessage(ChatRole.User, "Weather in Oslo and Rome?"),
            new ChatMessage(ChatRole.Assistant,
            [
                new TextContent(""),
                new FunctionCallContent("call_a", "get_weather", new Dictionary<string, object?> { ["city"] = "Oslo" }),
                new FunctionCallContent("call_b", "get_weather", new Dictionary<string, object?> { ["city"] = "Rome", ["days"] = 2 }),
            ]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_a", "-3C")]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_b", new { temp = 18, sky = "clear" })]),
            new ChatMessage(ChatRole.User, "And tomorrow?"));

        string json = WriteRequest(request);

        Equal("""
        {
          "model": "claude-sonnet-4-5",
          "max_tokens": 500,
          "system": "You are terse.",
          "stop_sequences": ["\n\nHuman:"],
          "top_p": 0.9,
          "top_k": 40,
          "metadata": { "user_id": "end-user-42" },
          "service_tier": "standard_only",
          "messages": [
            { "role": "user", "content": "Weather in Oslo and Rome?" },
            { "role": "assistant", "content": [
              { "type": "tool_use", "id": "call_a", "name": "get_weather", "input": { "city": "Oslo" } },
              { "type": "tool_use", "id": "call_b", "name": "get_weather", "input": { "city": "Rome", "days": 2 } }
            ] },
            { "role": "user", "content": [
              { "type": "tool_result", "tool_use_id": "call_a", "content": "-3C" },
              { "type": "tool_result", "tool_use_id": "call_b", "content": "{\"temp\":18,\"sky\":\"clear\"}" },
              { "type": "text", "text": "And tomorrow?" }
            ] }
          ]
        }
        """, json);
    }

    [Fact]
    public void WriteRequest_NoMaxOutputTokens_WritesDefault()
    {
        var request = Canonical(null, new ChatMessage(ChatRole.User, "hi"));

        Assert.Equal(AnthropicDialect.DefaultMaxTokens, Parse(WriteRequest(request)).GetProperty("max_tokens").GetInt32());
        Assert.Equal(4096, AnthropicDialect.DefaultMaxTokens);
        Assert.Equal(8192, Parse(Write(w => new AnthropicDialect(8192).WriteRequest(w, request, "m"))).GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public void WriteRequest_InstructionsAndSeveralSystemMessages_WriteSystemBlocks()
    {
        var request = Canonical(
            new ChatOptions { Instructions = "Answer in French." },
            new ChatMessage(ChatRole.System, "You are a guide."),
            new ChatMessage(ChatRole.User, "Hi"),
            new ChatMessage(ChatRole.System, "Be brief."));

        var root = Parse(WriteRequest(request));

        Equal("""
        [{"type":"text","text":"You are a guide."},{"type":"text","text":"Be brief."},{"type":"text","text":"Answer in French."}]
        """, root.GetProperty("system").GetRawText());
        Assert.Equal(1, root.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public void WriteRequest_ToolIdsWithForeignCharacters_AreSanitizedConsistently()
    {
        var request = Canonical(
            null,
            new ChatMessage(ChatRole.User, "go"),
            new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("functions.search:0", "search", null)]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("functions.search:0", "ok")]));

        var messages = Parse(WriteRequest(request)).GetProperty("messages");

        Assert.Equal("functions_search_0", messages[1].GetProperty("content")[0].GetProperty("id").GetString());
        Equal("{}", messages[1].GetProperty("content")[0].GetProperty("input").GetRawText());
        Assert.Equal("functions_search_0", messages[2].GetProperty("content")[0].GetProperty("tool_use_id").GetString());
    }

    [Fact]
    public void WriteRequest_FailedToolResult_WritesIsError()
    {
        var request = Canonical(
            null,
            new ChatMessage(ChatRole.Tool,
            [
                new FunctionResultContent("t1", "boom") { AdditionalProperties = new() { [CanonicalKeys.IsError] = true } },
                new FunctionResultContent("t2", null) { Exception = new InvalidOperationException("disk full") },
            ]));

        var content = Parse(WriteRequest(request)).GetProperty("messages")[0].GetProperty("content");

        Equal("""{"type":"tool_result","tool_use_id":"t1","content":"boom","is_error":true}""", content[0].GetRawText());
        Equal("""{"type":"tool_result","tool_use_id":"t2","content":"Error: disk full","is_error":true}""", content[1].GetRawText());
    }

    [Fact]
    public void ReadRequest_ImagesDocumentsAndUnknownBlocks_MapAndRoundTrip()
    {
        const string json = """
        {
          "model": "m",
          "max_tokens": 100,
          "messages": [ { "role": "user", "content": [
            { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg==" }, "cache_control": { "type": "ephemeral" } },
            { "type": "image", "source": { "type": "url", "url": "https://img.invalid/cat.jpg" } },
            { "type": "image", "source": { "type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w" } },
            { "type": "document", "source": { "type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK" }, "title": "Spec", "citations": { "enabled": true } },
            { "type": "document", "source": { "type": "text", "media_type": "text/plain", "data": "Plain notes ✓" }, "context": "meeting" },
            { "type": "document", "source": { "type": "url", "url": "https://docs.invalid/paper.pdf" }, "title": "Paper" },
            { "type": "document", "source": { "type": "file", "file_id": "file_abc" }, "title": "Upload" },
            { "type": "document", "source": { "type": "content", "content": [ { "type": "text", "text": "chunk" } ] } },
            { "type": "search_result", "source": "kb://1", "title": "KB", "content": [ { "type": "text", "text": "fact" } ] },
            { "type": "text", "text": "Compare these.", "citations": null }
          ] } ]
        }
        """;

        var request = Read(json);
        var contents = request.Messages[0].Contents;

        var png = Assert.IsType<DataContent>(contents[0]);
        Assert.Equal("image/png", png.MediaType);
        Assert.Equal("iVBORw0KGgoAAAANSUhEUg==", new string(png.Base64Data.Span));
        Assert.True(png.AdditionalProperties!.ContainsKey(CanonicalKeys.CacheControl));
        var url = Assert.IsType<UriContent>(contents[1]);
        Assert.Equal("image/jpeg", url.MediaType);
        Assert.Equal("image/*", Assert.IsType<HostedFileContent>(contents[2]).MediaType);
        var pdf = Assert.IsType<DataContent>(contents[3]);
        Assert.Equal("application/pdf", pdf.MediaType);
        Assert.Equal("Spec", pdf.Name);
        var text = Assert.IsType<DataContent>(contents[4]);
        Assert.Equal("text/plain", text.MediaType);
        Assert.Equal("Plain notes ✓", Encoding.UTF8.GetString(text.Data.Span));
        Assert.Equal("application/pdf", Assert.IsType<UriContent>(contents[5]).MediaType);
        Assert.Equal("Upload", Assert.IsType<HostedFileContent>(contents[6]).Name);
        Assert.Equal("document", Assert.IsType<AnthropicRawContent>(contents[7]).BlockType);
        Assert.Equal("search_result", Assert.IsType<AnthropicRawContent>(contents[8]).BlockType);
        Assert.IsType<TextContent>(contents[9]);

        Equal(json, WriteRequest(request, "m"));
    }

    [Fact]
    public void WriteRequest_UnsupportedMediaType_ThrowsInvalidRequest()
    {
        var request = Canonical(null, new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "audio/wav")]));

        var ex = Assert.Throws<DialectException>(() => WriteRequest(request));

        Assert.Equal(QlaudErrorKind.InvalidRequest, ex.Kind);
        Assert.Contains("audio/wav", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadRequest_MetadataWithExtraFields_KeepsRawAndEndUser()
    {
        const string json = """{"model":"m","max_tokens":5,"metadata":{"user_id":"u1","team":"x"},"messages":[]}""";

        var request = Read(json);

        Assert.Equal("u1", request.Options.AdditionalProperties![CanonicalKeys.EndUser]);
        Assert.IsType<JsonElement>(request.Options.AdditionalProperties["anthropic:metadata"]);
        Equal(json, WriteRequest(request, "m"));
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[]}""", "max_tokens")]
    [InlineData("""{"model":"m","max_tokens":0,"messages":[]}""", "max_tokens")]
    [InlineData("""{"max_tokens":10,"messages":[]}""", "model")]
    [InlineData("""{"model":"m","max_tokens":10}""", "messages")]
    [InlineData("""{"model":"m","max_tokens":10,"temperature":"hot","messages":[]}""", "temperature")]
    [InlineData("""{"model":"m","max_tokens":10,"stop_sequences":"END","messages":[]}""", "stop_sequences")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"tool","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"system","content":[{"type":"image"}]}]}""", "messages[0].content[0]")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":42}]}""", "messages[0].content")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n"}]}]}""", "messages[1].content[0].input")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text"}]}]}]}""", "messages[0].content[0].content[0].text")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"%%%"}}]}]}""", "messages[0].content[0].source")]
    [InlineData("""{"model":"m","max_tokens":10,"tools":[{"name":"t"}],"messages":[]}""", "tools[0].input_schema")]
    [InlineData("""{"model":"m","max_tokens":10,"tool_choice":{"type":"sometimes"},"messages":[]}""", "tool_choice.type")]
    [InlineData("""{"model":"m","max_tokens":10,"thinking":{"type":"enabled"},"messages":[]}""", "thinking.budget_tokens")]
    [InlineData("""{"model":"m","max_tokens":10,"system":[{"type":"image"}],"messages":[]}""", "system[0]")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[""", "not valid JSON")]
    [InlineData("""[1,2]""", "JSON object")]
    public void ReadRequest_MalformedField_ThrowsInvalidRequestNamingField(string json, string field)
    {
        var ex = Assert.Throws<DialectException>(() => Read(json));

        Assert.Equal(QlaudErrorKind.InvalidRequest, ex.Kind);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadRequest_SystemRoleMessageInsideMessages_SystemMessageAtItsPlace()
    {
        var request = Read("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"Hi"},{"role":"system","content":[{"type":"text","text":"Be brief."}]},{"role":"user","content":"Go"}]}""");

        Assert.Equal([ChatRole.User, ChatRole.System, ChatRole.User], request.Messages.Select(static m => m.Role));
        Assert.Equal("Be brief.", request.Messages[1].Text);
    }

    [Fact]
    public void ReadRequest_StringContentAndSystemString_MapToSingleTextMessages()
    {
        var request = Read("""{"model":"m","max_tokens":10,"system":"Be nice.","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}""");

        Assert.Equal(3, request.Messages.Count);
        Assert.Equal("Be nice.", request.Messages[0].Text);
        Assert.Equal(ChatRole.User, request.Messages[1].Role);
        Assert.Equal("Hello", request.Messages[2].Text);
        Assert.False(request.Stream);
    }

    [Fact]
    public void WriteRequest_AIFunctionFromFactory_WritesItsSchema()
    {
        var function = AIFunctionFactory.Create((string city, int days) => $"{city}:{days}", "forecast", "Weather forecast");
        var request = Canonical(new ChatOptions { Tools = [function, new HostedWebSearchTool()] }, new ChatMessage(ChatRole.User, "hi"));

        var tools = Parse(WriteRequest(request)).GetProperty("tools");

        Assert.Equal("forecast", tools[0].GetProperty("name").GetString());
        Assert.Equal("Weather forecast", tools[0].GetProperty("description").GetString());
        Assert.Equal("object", tools[0].GetProperty("input_schema").GetProperty("type").GetString());
        Assert.True(tools[0].GetProperty("input_schema").GetProperty("properties").TryGetProperty("city", out _));
        Equal("""{"type":"web_search_20250305","name":"web_search"}""", tools[1].GetRawText());
    }
}
