using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic.Models.Messages;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Security;
using Xunit.Abstractions;

namespace Qlaud.AspNetCore.Tests.Fuzz;

/// <summary>10,000 malformed bodies, mutated from real SDK requests, on both chat surfaces and both kinds of route.</summary>
public sealed class ChatEndpointsFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20261206;
    private const int Count = 10_000;
    private const int Concurrency = 4;

    [Fact]
    public async Task Forward_TenThousandMalformedBodies_Every4xxInTheSurfaceErrorShape()
    {
        var captured = new ConcurrentQueue<(string Path, byte[] Body)>();
        bool capturing = true;
        await using var gateway = await GatewayHost.StartAsync(middleware: async (context, next) =>
        {
            if (Volatile.Read(ref capturing) && context.Request.Path.Value is "/v1/chat/completions" or "/v1/messages")
            {
                context.Request.EnableBuffering();
                using var copy = new MemoryStream();
                await context.Request.Body.CopyToAsync(copy);
                context.Request.Body.Position = 0;
                captured.Enqueue((context.Request.Path.Value!, copy.ToArray()));
            }

            await next(context);
        });
        using var admin = gateway.Http();
        using var minted = await admin.PostAsJsonAsync("/v1/keys", new { name = "fuzz", end_user_id = "fuzz", max_spend_usd = 5 });
        minted.EnsureSuccessStatusCode();
        var mintedJson = await minted.Content.ReadFromJsonAsync<JsonElement>();
        string key = mintedJson.GetProperty("secret").GetString()!;
        string keyId = mintedJson.GetProperty("id").GetString()!;

        // Real SDK requests: the official OpenAI and Anthropic clients, plain and streamed, with a system prompt and a tool.
        await SendSdkRequestsAsync(gateway, key);
        Volatile.Write(ref capturing, false);
        var sdkBodies = captured.ToArray();
        Assert.Equal(4, sdkBodies.Length);
        var seeds = new List<(string Path, string Route, byte[] Body)>();
        foreach (var (path, body) in sdkBodies)
        {
            bool openAI = path == "/v1/chat/completions";
            seeds.Add((path, "same-dialect", WithModel(body, openAI ? "fake-gpt" : "fake-claude")));
            seeds.Add((path, "translated", WithModel(body, openAI ? "fake-claude" : "fake-gpt")));
        }

        int forwardedBefore = gateway.Fake.Requests.Count;
        var cases = MalformedBodies.Generate(seeds, Seed, Count);
        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();
        using var http = new HttpClient { BaseAddress = gateway.BaseUri, Timeout = TimeSpan.FromSeconds(10) };
        int next = -1;
        var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < cases.Count; i = Interlocked.Increment(ref next))
            {
                var c = cases[i];
                string verdict = await SendAsync(http, c, key);
                statuses.AddOrUpdate($"{c.Mutation} {verdict[..3]}", 1, static (_, n) => n + 1);
                if (verdict.Length > 3)
                {
                    failures.Enqueue($"#{i} {c.Path} {c.Route} {c.Mutation}: {verdict} <- {Preview(c.Body)}");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        clock.Stop();

        int forwarded = gateway.Fake.Requests.Count - forwardedBefore;
        var summary = new StringBuilder()
            .AppendLine(FormattableString.Invariant($"{cases.Count} malformed bodies (seed {Seed}) in {clock.Elapsed.TotalSeconds:0.0} s, {Concurrency} connections; {failures.Count} not a 4xx in the surface's error shape; {forwarded} forwarded upstream"));
        foreach (var (status, n) in statuses.OrderBy(static p => p.Key, StringComparer.Ordinal))
        {
            summary.AppendLine(FormattableString.Invariant($"  {status}: {n}"));
        }

        output.WriteLine(summary.ToString());
        Console.WriteLine(summary.ToString());
        Assert.True(failures.IsEmpty, summary + string.Join('\n', failures.Take(30)));
        Assert.Equal(0, forwarded);

        // Nothing stays reserved, on the wallet or on the key, and the gateway still answers real requests on both surfaces.
        using var wallet = await admin.GetAsync("/v1/wallet");
        Assert.Equal(0, (await wallet.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reserved_micros").GetInt64());
        var keyState = gateway.Services.GetRequiredService<KeyRegistry>().TryGetCached(keyId);
        Assert.NotNull(keyState);
        lock (keyState.Gate)
        {
            Assert.Equal(0, keyState.ReservedMicros);
        }

        await SendSdkRequestsAsync(gateway, key);
    }

    /// <summary>What the fuzzer found, one case each: before the fix these were a 500 (translated routes, and a model name with a
    /// lone surrogate on any route) or were forwarded upstream as they were, so the gateway routed and metered by one reading of
    /// the body while the upstream acted on another.</summary>
    [Theory]
    [InlineData("/v1/chat/completions", "fake-claude", "invalid-utf8")]
    [InlineData("/v1/chat/completions", "fake-gpt", "invalid-utf8")]
    [InlineData("/v1/messages", "fake-gpt", "invalid-utf8")]
    [InlineData("/v1/messages", "fake-claude", "invalid-utf8")]
    [InlineData("/v1/chat/completions", "fake-claude", "lone-surrogate")]
    [InlineData("/v1/messages", "fake-claude", "lone-surrogate-in-model")]
    [InlineData("/v1/messages", "fake-gpt", "lone-surrogate")]
    [InlineData("/v1/chat/completions", "fake-gpt", "duplicate-model")]
    [InlineData("/v1/messages", "fake-claude", "duplicate-stream")]
    [InlineData("/v1/chat/completions", "fake-gpt", "duplicate-messages")]
    [InlineData("/v1/messages", "fake-claude", "max-tokens-zero")]
    [InlineData("/v1/chat/completions", "fake-gpt", "max-tokens-huge")]
    [InlineData("/v1/chat/completions", "fake-gpt", "messages-object")]
    [InlineData("/v1/messages", "fake-claude", "message-item-string")]
    [InlineData("/v1/chat/completions", "fake-gpt", "role-number")]
    [InlineData("/v1/messages", "fake-claude", "tools-object")]
    [InlineData("/v1/chat/completions", "fake-gpt", "stream-options-string")]
    public async Task Forward_FuzzFinding_400InTheSurfaceErrorShapeAndNothingForwarded(string path, string model, string finding)
    {
        await using var gateway = await GatewayHost.StartAsync();
        const string Messages = """[{"role":"user","content":"Weather in Oslo?"}]""";
        string body = finding switch
        {
            "invalid-utf8" or "lone-surrogate" => $$"""{"model":"{{model}}","max_tokens":64,"messages":[{"role":"user","content":"Weather in OSLOMARK?"}]}""",
            "lone-surrogate-in-model" => $$"""{"model":"fake-claLONEude","max_tokens":64,"messages":{{Messages}}}""",
            "duplicate-model" => $$"""{"model":"fake-claude","model":"{{model}}","max_tokens":64,"messages":{{Messages}}}""",
            "duplicate-stream" => $$"""{"model":"{{model}}","stream":false,"max_tokens":64,"messages":{{Messages}},"stream":true}""",
            "duplicate-messages" => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"cheap"}],"max_tokens":64,"messages":{{Messages}}}""",
            "max-tokens-zero" => $$"""{"model":"{{model}}","max_tokens":0,"messages":{{Messages}}}""",
            "max-tokens-huge" => $$"""{"model":"{{model}}","max_tokens":9223372036854775807,"messages":{{Messages}}}""",
            "messages-object" => $$"""{"model":"{{model}}","max_tokens":64,"messages":{"role":"user","content":"hi"} }""",
            "message-item-string" => $$"""{"model":"{{model}}","max_tokens":64,"messages":["hi"]}""",
            "role-number" => $$"""{"model":"{{model}}","max_tokens":64,"messages":[{"role":1,"content":"hi"}]}""",
            "tools-object" => $$"""{"model":"{{model}}","max_tokens":64,"messages":{{Messages}},"tools":{"name":"x"} }""",
            "stream-options-string" => $$"""{"model":"{{model}}","max_tokens":64,"messages":{{Messages}},"stream":true,"stream_options":"usage"}""",
            _ => throw new ArgumentOutOfRangeException(nameof(finding)),
        };

        // A JSON escape of a high surrogate with no low one after it: backslash, u, D, B, F, F.
        string lone = "\\" + "udbff";
        int mark = body.IndexOf("OSLOMARK", StringComparison.Ordinal);
        byte[] bytes = finding switch
        {
            "invalid-utf8" => [.. Encoding.UTF8.GetBytes(body[..mark]), 0xC3, 0x28, .. Encoding.UTF8.GetBytes(body[(mark + 8)..])],
            "lone-surrogate" => Encoding.UTF8.GetBytes(body.Replace("OSLOMARK", lone, StringComparison.Ordinal)),
            "lone-surrogate-in-model" => Encoding.UTF8.GetBytes(body.Replace("LONE", lone, StringComparison.Ordinal)),
            _ => Encoding.UTF8.GetBytes(body),
        };

        using var http = new HttpClient { BaseAddress = gateway.BaseUri, Timeout = TimeSpan.FromSeconds(10) };
        string verdict = await SendAsync(http, new MalformedCase(path, model, finding, bytes), GatewayHost.MasterKey);

        Assert.Equal("400", verdict);
        Assert.Empty(gateway.Fake.Requests);
    }

    private static async Task SendSdkRequestsAsync(GatewayHost gateway, string key)
    {
        var tool = ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { tool }, MaxOutputTokenCount = 64, Temperature = 0.2f };
        ChatMessage[] messages = [new SystemChatMessage("You are terse."), new UserChatMessage("Weather in Oslo?")];
        var chat = gateway.OpenAIChat("fake-gpt", key);
        var completion = await chat.CompleteChatAsync(messages, options);
        Assert.NotNull(completion.Value);
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            _ = update;
        }

        var anthropic = gateway.AnthropicClient(key);
        var request = new MessageCreateParams
        {
            Model = "fake-claude",
            MaxTokens = 64,
            System = "You are terse.",
            Messages = [new UserMessageParam { Content = "Weather in Oslo?" }],
            Tools = [new Tool { Name = "get_weather", Description = "Weather for a city", InputSchema = new InputSchema { Properties = new Dictionary<string, JsonElement> { ["city"] = JsonDocument.Parse("""{"type":"string"}""").RootElement }, Required = ["city"] } }],
        };
        Assert.NotNull(await anthropic.Messages.Create(request));
        await foreach (var streamed in anthropic.Messages.CreateStreaming(request))
        {
            _ = streamed;
        }
    }

    private static byte[] WithModel(byte[] body, string model)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        root["model"] = model;
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>The status code, followed by what is wrong when the answer is not a 4xx in the surface's error shape.</summary>
    private static async Task<string> SendAsync(HttpClient http, MalformedCase c, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, c.Path) { Content = new ByteArrayContent(c.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (c.Path == "/v1/messages")
        {
            request.Headers.Add("x-api-key", key);
            request.Headers.Add("anthropic-version", "2023-06-01");
        }
        else
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request);
        }
        catch (TaskCanceledException)
        {
            return "000 no answer within 10 s";
        }
        catch (HttpRequestException ex)
        {
            return "000 connection failed: " + ex.Message;
        }

        using (response)
        {
            int status = (int)response.StatusCode;
            string code = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            byte[] body = await response.Content.ReadAsByteArrayAsync();
            if (status is < 400 or >= 500)
            {
                return code + " " + Preview(body);
            }

            string? shapeError = c.Path == "/v1/messages" ? AnthropicShape(body) : OpenAIShape(body);
            return shapeError is null ? code : code + " not the surface's error shape: " + shapeError + " " + Preview(body);
        }
    }

    /// <summary>OpenAI: <c>{"error":{"message":string,"type":string,…}}</c>.</summary>
    private static string? OpenAIShape(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String && message.GetString()!.Length > 0
                && error.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                ? null : "no error.message/error.type";
        }
        catch (JsonException)
        {
            return "not JSON";
        }
    }

    /// <summary>Anthropic: <c>{"type":"error","error":{"type":string,"message":string}}</c>.</summary>
    private static string? AnthropicShape(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            return root.TryGetProperty("type", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == "error"
                && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String && message.GetString()!.Length > 0
                ? null : "no type:error / error.type / error.message";
        }
        catch (JsonException)
        {
            return "not JSON";
        }
    }

    private static string Preview(byte[] body)
    {
        string text = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 160)));
        return body.Length > 160 ? text + $"… ({body.Length} bytes)" : text;
    }
}
