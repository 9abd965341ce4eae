using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Helpers;
using Anthropic.Models.Messages;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// Translated routes (an OpenAI client on an Anthropic route, an Anthropic client on an OpenAI-dialect route): usage, prompt
/// caching and thinking survive the translation, asserted on what the client gets and what reaches the fake upstream.
/// </summary>
public sealed class TranslationFidelityTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task OpenAIStreamingOnAnthropicRoute_IncludeUsage_FinalChunkCarriesInputOutputTotalAndCachedTokens()
    {
        var reply = FakeReply.Text("Bonjour from Claude.") with { ChunkSize = 4, Usage = new FakeUsage { InputTokens = 40, OutputTokens = 7, CachedTokens = 100, CacheCreationTokens = 10 } };
        _gateway.Fake.Enqueue(reply, reply);
        var chat = _gateway.OpenAIChat("fake-claude");

        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage("Greet me.")]);
        ChatTokenUsage? streamed = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Greet me.")]))
        {
            streamed = update.Usage ?? streamed;
        }

        Assert.NotNull(streamed);
        Assert.Equal(150, streamed.InputTokenCount); // 40 uncached + 100 cache reads + 10 cache writes
        Assert.Equal(7, streamed.OutputTokenCount);
        Assert.Equal(157, streamed.TotalTokenCount);
        Assert.Equal(100, streamed.InputTokenDetails.CachedTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, streamed.InputTokenCount);
        Assert.Equal(whole.Usage.TotalTokenCount, streamed.TotalTokenCount);
    }

    [Fact]
    public async Task AnthropicStreamingOnOpenAIRoute_MessageStartEstimatesInput_MessageDeltaCarriesExactCounts()
    {
        const string body = """{"model":"fake-gpt","max_tokens":50,"stream":true,"system":"You are a careful assistant who answers in one short sentence.","messages":[{"role":"user","content":"What is the capital of France, and why is it that city?"}]}""";
        var reply = FakeReply.Text("Paris, for history.") with { ChunkSize = 5, Usage = new FakeUsage { InputTokens = 1000, OutputTokens = 5, CachedTokens = 800 } };
        _gateway.Fake.Enqueue(reply, reply);
        using var http = _gateway.Http();
        var (countStatus, counted) = await http.PostJsonAsync("/v1/messages/count_tokens", body);
        Assert.Equal(HttpStatusCode.OK, countStatus);

        using var response = await http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        var events = SseEvents(await response.Content.ReadAsStringAsync());

        var startUsage = events.Single(static e => e.Name == "message_start").Data.GetProperty("message").GetProperty("usage");
        long estimate = counted.GetProperty("input_tokens").GetInt64();
        Assert.True(estimate > 0);
        Assert.Equal(estimate, startUsage.GetProperty("input_tokens").GetInt64());
        var deltaUsage = events.Single(static e => e.Name == "message_delta").Data.GetProperty("usage");
        Assert.Equal(200, deltaUsage.GetProperty("input_tokens").GetInt64()); // Anthropic counts input without the cache reads
        Assert.Equal(800, deltaUsage.GetProperty("cache_read_input_tokens").GetInt64());
        Assert.Equal(0, deltaUsage.GetProperty("cache_creation_input_tokens").GetInt64());
        Assert.Equal(5, deltaUsage.GetProperty("output_tokens").GetInt64());

        Message streamed = await _gateway.AnthropicClient().Messages.CreateStreaming(new MessageCreateParams
        {
            Model = "fake-gpt",
            MaxTokens = 50,
            Messages = [new UserMessageParam("What is the capital of France?")],
        }).Aggregate();
        Assert.Equal(200, streamed.Usage.InputTokens);
        Assert.Equal(800, streamed.Usage.CacheReadInputTokens);
        Assert.Equal(5, streamed.Usage.OutputTokens);
    }

    /// <summary>A request as Claude Code sends it (system blocks with <c>cache_control</c>, 21 tools, a system-role message inside
    /// <c>messages</c>, <c>thinking</c>, <c>context_management</c>, <c>metadata.user_id</c>), with its model set to <c>fake-gpt</c>.</summary>
    private static JsonObject ClaudeCodeRequest()
        => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "claude-code-request.json")))!.AsObject();

    private static async Task<HttpResponseMessage> PostAsClaudeCodeAsync(HttpClient http, JsonObject body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages?beta=true")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,context-management-2025-06-27");
        request.Headers.Add("anthropic-dangerous-direct-browser-access", "true");
        request.Headers.Add("x-app", "cli");
        request.Headers.TryAddWithoutValidation("user-agent", "claude-cli/2.0.60 (external, cli)");
        return await http.SendAsync(request);
    }

    public static TheoryData<string> ThinkingConfigs => new()
    {
        """{"type":"adaptive"}""",
        """{"type":"enabled","budget_tokens":31999}""",
        """{"type":"disabled"}""",
    };

    [Theory]
    [MemberData(nameof(ThinkingConfigs))]
    public async Task ClaudeCodeRequestOnOpenAIRoute_RawHttp_AcceptedAndTranslatedInPlace(string thinking)
    {
        _gateway.Fake.Enqueue(FakeReply.Text("Install it with make install.") with { ChunkSize = 6 });
        var body = ClaudeCodeRequest();
        body["thinking"] = JsonNode.Parse(thinking);
        // More of what the Anthropic API accepts and an OpenAI-dialect upstream has no field for.
        body["service_tier"] = "auto";
        body["container"] = "container_011CZ";
        body["metadata"]!["extra"] = "x";
        using var http = _gateway.Http();

        using var response = await PostAsClaudeCodeAsync(http, body);
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = SseEvents(text);
        Assert.Equal("message_start", events[0].Name);
        Assert.Equal("message_stop", events[^1].Name);
        Assert.Equal("Install it with make install.", string.Concat(events.Where(static e => e.Name == "content_block_delta").Select(static e => e.Data.GetProperty("delta").GetProperty("text").GetString())));

        var upstream = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("/v1/chat/completions", upstream.Path);
        Assert.Null(upstream.GetHeader("anthropic-beta"));
        var sent = upstream.BodyJson!.Value;
        Assert.Equal("upstream-gpt", sent.GetProperty("model").GetString());
        Assert.True(sent.GetProperty("stream").GetBoolean());
        foreach (var anthropicOnly in new[] { "system", "thinking", "context_management", "metadata", "service_tier", "container", "mcp_servers", "max_tokens_field" })
        {
            Assert.False(sent.TryGetProperty(anthropicOnly, out _), anthropicOnly);
        }

        Assert.StartsWith("user_2f9c0e8b", sent.GetProperty("user").GetString(), StringComparison.Ordinal);
        var tools = sent.GetProperty("tools").EnumerateArray().ToList();
        Assert.Equal(21, tools.Count);
        Assert.All(tools, static t => Assert.Equal("function", t.GetProperty("type").GetString()));
        Assert.Equal("Read", tools[5].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("file_path", tools[5].GetProperty("function").GetProperty("parameters").GetProperty("required")[0].GetString());

        var roles = sent.GetProperty("messages").EnumerateArray().Select(static m => m.GetProperty("role").GetString()).ToList();
        Assert.Equal(["system", "user", "assistant", "tool", "user", "system", "user"], roles);
        var messages = sent.GetProperty("messages");
        Assert.Contains("You are Claude Code", messages[0].GetRawText(), StringComparison.Ordinal);
        Assert.Equal("The user switched the output style to Explanatory: explain the choices you make.", messages[5].GetProperty("content").GetString());
        Assert.Equal("call_00_rdme", messages[3].GetProperty("tool_call_id").GetString());
        Assert.Equal("Read", messages[2].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
    }

    [Fact]
    public async Task ClaudeCodeRequestOnOpenAIRoute_AnthropicSdkBetaMessages_StreamsAnswer()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("Install it with make install.") with { ChunkSize = 6, Usage = new FakeUsage { InputTokens = 3000, OutputTokens = 7, CachedTokens = 2048 } });
        var raw = ClaudeCodeRequest();
        raw.Remove("stream");
        var body = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(raw.ToJsonString())!;
        var parameters = Anthropic.Models.Beta.Messages.MessageCreateParams.FromRawUnchecked(
            new Dictionary<string, JsonElement>(), new Dictionary<string, JsonElement>(), body) with
        {
            Betas = ["claude-code-20250219", "interleaved-thinking-2025-05-14", "context-management-2025-06-27"],
        };

        var message = await _gateway.AnthropicClient().Beta.Messages.CreateStreaming(parameters).Aggregate();

        Assert.Equal("Install it with make install.", string.Concat(message.Content.Select(static b => b.TryPickText(out var t) ? t.Text : "")));
        Assert.Equal(7, message.Usage.OutputTokens);
        Assert.Equal(2048, message.Usage.CacheReadInputTokens);
        Assert.Equal(952, message.Usage.InputTokens);
        var sent = Assert.Single(_gateway.Fake.Requests).BodyJson!.Value;
        Assert.Equal(21, sent.GetProperty("tools").GetArrayLength());
        Assert.Equal("system", sent.GetProperty("messages")[5].GetProperty("role").GetString());
    }

    private static MessageCreateParams AskGpt(string text, IReadOnlyList<MessageParam>? history = null) => new()
    {
        Model = "fake-gpt",
        MaxTokens = 256,
        Messages = history ?? [new UserMessageParam(text)],
    };

    private static IReadOnlyList<MessageParam> NextTurn(ThinkingBlock thinking, string answer) =>
    [
        new UserMessageParam("Capital of France?"),
        new AssistantMessageParam(new List<ContentBlockParam>
        {
            new ThinkingBlockParam { Thinking = thinking.Thinking, Signature = thinking.Signature },
            new TextBlockParam(answer),
        }),
        new UserMessageParam("And of Italy?"),
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReasoningOnOpenAIRoute_ThinkingBlockSignedByQlaud_AcceptedBackAndDroppedUpstream(bool stream)
    {
        _gateway.Fake.Enqueue(FakeReply.TextWithReasoning("The user asks about France. Paris is its capital.", "Paris.") with { ChunkSize = 7 }, FakeReply.Text("Rome."));
        var client = _gateway.AnthropicClient();

        Message first = stream ? await client.Messages.CreateStreaming(AskGpt("Capital of France?")).Aggregate() : await client.Messages.Create(AskGpt("Capital of France?"));
        Assert.True(first.Content[0].TryPickThinking(out var thinking));
        Assert.Equal("The user asks about France. Paris is its capital.", thinking.Thinking);
        Assert.False(string.IsNullOrEmpty(thinking.Signature));

        Message second = await client.Messages.Create(AskGpt("", NextTurn(thinking, "Paris.")));

        Assert.True(second.Content[0].TryPickText(out var text));
        Assert.Equal("Rome.", text.Text);
        string sent = _gateway.Fake.Requests[1].BodyText;
        Assert.DoesNotContain("Paris is its capital", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("reasoning_content", sent, StringComparison.Ordinal);
        Assert.DoesNotContain(thinking.Signature, sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReasoningOnOpenAIRoute_StreamAndWholeAnswer_SameSignatureForSameThinking()
    {
        var reply = FakeReply.TextWithReasoning("Short thought.", "Done.") with { ChunkSize = 3 };
        _gateway.Fake.Enqueue(reply, reply);
        var client = _gateway.AnthropicClient();

        Message whole = await client.Messages.Create(AskGpt("q"));
        Message streamed = await client.Messages.CreateStreaming(AskGpt("q")).Aggregate();

        Assert.True(whole.Content[0].TryPickThinking(out var a));
        Assert.True(streamed.Content[0].TryPickThinking(out var b));
        Assert.False(string.IsNullOrEmpty(a.Signature));
        Assert.Equal(a.Signature, b.Signature);
    }

    public static TheoryData<string> ForeignSignatures => new()
    {
        "EqQBCkgIARABGAIiQL2wY9Q0Xr5lrS0AnthropicIssuedSignature==",
        "",
    };

    [Theory]
    [MemberData(nameof(ForeignSignatures))]
    public async Task ThinkingBlockNotSignedByQlaud_OnOpenAIRoute_400InvalidRequestAndNoUpstreamCall(string signature)
    {
        string body = $$"""
            {"model":"fake-gpt","max_tokens":100,"stream":true,
             "messages":[{"role":"user","content":"q"},
                         {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"{{signature}}"},{"type":"text","text":"a"}]},
                         {"role":"user","content":"q2"}]}
            """;
        using var http = _gateway.Http();

        var (status, error) = await http.PostJsonAsync("/v1/messages", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("messages.1.content.0: Invalid `signature` in `thinking` block", error.GetProperty("error").GetProperty("message").GetString());
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task ThinkingBlockWithAnthropicSignature_OnAnthropicRoute_PassesThroughUntouched()
    {
        const string body = """{"model":"fake-claude","max_tokens":100,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"EqQBCkgIARABGAIiQL2wY9Q0"},{"type":"text","text":"a"}]},{"role":"user","content":"q2"}]}""";
        using var http = _gateway.Http();

        var (status, _) = await http.PostJsonAsync("/v1/messages", body);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(body.Replace("fake-claude", "upstream-claude", StringComparison.Ordinal), Assert.Single(_gateway.Fake.Requests).BodyText);
    }

    [Fact]
    public async Task ThinkingSignature_ConfiguredSecret_IsHmacSha256OfTheThinkingText()
    {
        const string secret = "a-configured-secret-of-at-least-32-characters";
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Routing:ThinkingSignatureSecret"] = secret });
        gateway.Fake.Enqueue(FakeReply.TextWithReasoning("Some reasoning.", "ok"));

        Message message = await gateway.AnthropicClient().Messages.Create(AskGpt("q"));

        Assert.True(message.Content[0].TryPickThinking(out var thinking));
        var expected = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes("Some reasoning.")));
        Assert.Equal(expected, thinking.Signature);
    }

    [Fact]
    public async Task ThinkingSignature_GeneratedSecret_SurvivesARestartOnTheSameDatabase()
    {
        using var database = new TempDatabase();
        var settings = new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString };
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.TextWithReasoning("Remember this.", "ok"), FakeReply.Text("still ok"));
        ThinkingBlock thinking;
        await using (var before = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            Message first = await before.AnthropicClient().Messages.Create(AskGpt("q"));
            Assert.True(first.Content[0].TryPickThinking(out thinking!));
            Assert.False(string.IsNullOrEmpty(thinking.Signature));
        }

        await using var after = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        Message second = await after.AnthropicClient().Messages.Create(AskGpt("", NextTurn(thinking, "ok")));

        Assert.True(second.Content[0].TryPickText(out var text));
        Assert.Equal("still ok", text.Text);
    }

    /// <summary>An agent loop's second turn: tools, a long system prompt (about 1,500 estimated tokens) and one earlier exchange.</summary>
    private static (List<OpenAI.Chat.ChatMessage> Messages, ChatCompletionOptions Options) AgentTurn(int systemRepeats = 150)
    {
        string system = string.Concat(Enumerable.Repeat("You are a careful coding agent; read before you edit. ", systemRepeats));
        var options = new ChatCompletionOptions
        {
            Tools =
            {
                ChatTool.CreateFunctionTool("read_file", "Reads a file", BinaryData.FromString("""{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}""")),
                ChatTool.CreateFunctionTool("write_file", "Writes a file", BinaryData.FromString("""{"type":"object","properties":{"path":{"type":"string"},"text":{"type":"string"}}}""")),
            },
        };
        List<OpenAI.Chat.ChatMessage> messages =
        [
            new SystemChatMessage(system),
            new UserChatMessage("What is in README.md?"),
            new AssistantChatMessage("It describes the build."),
            new UserChatMessage("And how do I run the tests?"),
        ];
        return (messages, options);
    }

    private static int CountCacheControls(string body)
    {
        int count = 0;
        for (int at = body.IndexOf("\"cache_control\"", StringComparison.Ordinal); at >= 0; at = body.IndexOf("\"cache_control\"", at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    [Fact]
    public async Task OpenAIClientOnAnthropicRoute_LongPrefix_BreakpointsOnLastToolSystemAndLastEarlierTurn()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("Run make test.") with { Usage = new FakeUsage { InputTokens = 50, OutputTokens = 4, CachedTokens = 3000, CacheCreationTokens = 200 } });
        var (messages, options) = AgentTurn();

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude").CompleteChatAsync(messages, options);

        Assert.Equal(3250, completion.Usage.InputTokenCount);
        Assert.Equal(3000, completion.Usage.InputTokenDetails.CachedTokenCount);
        var upstream = Assert.Single(_gateway.Fake.Requests);
        var sent = upstream.BodyJson!.Value;
        Assert.Equal(3, CountCacheControls(upstream.BodyText));
        Assert.Equal("ephemeral", sent.GetProperty("tools")[1].GetProperty("cache_control").GetProperty("type").GetString());
        Assert.False(sent.GetProperty("tools")[0].TryGetProperty("cache_control", out _));
        var system = sent.GetProperty("system");
        Assert.Equal("ephemeral", system[system.GetArrayLength() - 1].GetProperty("cache_control").GetProperty("type").GetString());
        var turns = sent.GetProperty("messages");
        Assert.Equal(3, turns.GetArrayLength());
        Assert.Equal("assistant", turns[1].GetProperty("role").GetString());
        Assert.Equal("ephemeral", turns[1].GetProperty("content")[0].GetProperty("cache_control").GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.String, turns[2].GetProperty("content").ValueKind);
    }

    [Fact]
    public async Task OpenAIClientOnAnthropicRoute_ShortPrefix_NoBreakpoints()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("ok"));
        var (messages, options) = AgentTurn(systemRepeats: 2);

        await _gateway.OpenAIChat("fake-claude").CompleteChatAsync(messages, options);

        Assert.Equal(0, CountCacheControls(Assert.Single(_gateway.Fake.Requests).BodyText));
    }

    [Fact]
    public async Task OpenAIClientOnAnthropicRoute_AutoPromptCacheOff_NoBreakpoints()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Routing:AutoPromptCache"] = "false" });
        gateway.Fake.Enqueue(FakeReply.Text("ok"));
        var (messages, options) = AgentTurn();

        await gateway.OpenAIChat("fake-claude").CompleteChatAsync(messages, options);

        Assert.Equal(0, CountCacheControls(Assert.Single(gateway.Fake.Requests).BodyText));
    }

    [Fact]
    public async Task OpenAIClientOnAnthropicRoute_CacheReadsAndWrites_ReachTheLedger()
    {
        using var database = new TempDatabase();
        var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString });
        var reply = FakeReply.Text("Run make test.") with { Usage = new FakeUsage { InputTokens = 50, OutputTokens = 4, CachedTokens = 3000, CacheCreationTokens = 200 } };
        gateway.Fake.Enqueue(reply, reply);
        var (messages, options) = AgentTurn();
        var chat = gateway.OpenAIChat("fake-claude");
        await chat.CompleteChatAsync(messages, options);
        ChatTokenUsage? streamed = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            streamed = update.Usage ?? streamed;
        }

        await gateway.DisposeAsync(); // the ledger writer commits what is queued

        Assert.Equal(3000, streamed!.InputTokenDetails.CachedTokenCount);
        Assert.Equal(3250, streamed.InputTokenCount);
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT InputTokens, CacheReadTokens, CacheWriteTokens FROM LedgerEntries WHERE Kind = 'Usage'";
        await using var reader = await command.ExecuteReaderAsync();
        int rows = 0;
        while (await reader.ReadAsync())
        {
            rows++;
            Assert.Equal(3250, reader.GetInt64(0));
            Assert.Equal(3000, reader.GetInt64(1));
            Assert.Equal(200, reader.GetInt64(2));
        }

        Assert.Equal(2, rows);
    }

    internal static List<(string Name, JsonElement Data)> SseEvents(string text)
    {
        var events = new List<(string, JsonElement)>();
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string name = "";
            string? data = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line["data: ".Length..];
                }
            }

            if (data is not null && data != "[DONE]")
            {
                events.Add((name, JsonDocument.Parse(data).RootElement.Clone()));
            }
        }

        return events;
    }
}
