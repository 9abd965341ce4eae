using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using Qlaud.Hosting;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;
using System.ClientModel;
using System.ClientModel.Primitives;

namespace Qlaud.Benchmarks;

/// <summary>
/// What Qlaud adds to an in-process, non-streamed <see cref="IChatClient"/> call: the same conversation and the same canned
/// OpenAI answer over the same in-memory transport (an <see cref="HttpMessageHandler"/> that reads the request body and
/// returns the answer's bytes, no socket), through two bare <see cref="IChatClient"/>s and through Qlaud's
/// <see cref="IChatClient"/> from <c>AddQlaud()</c>. The bare clients: a minimal hand-written one (the baseline: write the
/// JSON, POST, read text and usage, nothing else) and the OpenAI SDK's through Microsoft.Extensions.AI.OpenAI (what an app
/// calls without a gateway).
/// </summary>
/// <remarks>
/// <para>Qlaud rows: routing only (<c>Qlaud:Metering:Enabled=false</c>); routing and metering for the in-process caller (the
/// default account); routing and metering for a minted end-user key with a cap (<see cref="QlaudChatOptionKeys.ApiKey"/>).
/// Each invocation makes <see cref="Calls"/> calls and then waits for the ledger to commit their entries (a real SQLite file),
/// so the ledger's batched write is inside the measured time, amortized as it is under load.</para>
/// <para>The issue 18 target: Qlaud with metering ≤ 20 µs and ≤ 2 KB allocated above the bare client.</para>
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class InProcessChatBenchmarks
{
    private const int Calls = 256;
    private const string MasterKey = "qlk_live_BenchmarkMasterKey0000000000000000000000";

    private static readonly byte[] Answer = Encoding.UTF8.GetBytes("""
        {"id":"chatcmpl-bench","object":"chat.completion","created":1764979200,"model":"bench-upstream","choices":[{"index":0,"message":{"role":"assistant","content":"Your parcel is on its way and should arrive on Monday. The express fee is refunded if it is late.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":412,"completion_tokens":24,"total_tokens":436,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_bench"}
        """);

    private readonly List<ChatMessage> _messages =
    [
        new(ChatRole.System, "You are the support assistant of an online shop. Answer briefly and precisely, in the customer's language."),
        new(ChatRole.User, "Hi, my order 1042 was supposed to arrive on Friday and it still hasn't. What is going on?"),
        new(ChatRole.Assistant, "I'm sorry about the wait. Order 1042 left our warehouse on Tuesday; I'd expect it on Monday or Tuesday."),
        new(ChatRole.User, "OK, but I need it by Tuesday. If it doesn't come, can I get a refund for the shipping at least?"),
    ];

    private readonly ChatOptions _bareOptions = new() { MaxOutputTokens = 512 };
    private readonly ChatOptions _qlaudOptions = new() { ModelId = "bench-model", MaxOutputTokens = 512 };
    private ChatOptions _endUserOptions = null!;

    private readonly List<(ServiceProvider Services, string Path)> _gateways = [];
    private IChatClient _bare = null!;
    private IChatClient _minimal = null!;
    private IChatClient _routingOnly = null!;
    private IChatClient _metered = null!;
    private LedgerWriter _ledger = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bare = new OpenAIClient(new ApiKeyCredential("x"), new OpenAIClientOptions
        {
            Endpoint = new Uri("http://127.0.0.1:9/v1"),
            Transport = new HttpClientPipelineTransport(new HttpClient(new CannedAnswerHandler())),
        }).GetChatClient("bench-upstream").AsIChatClient();

        _minimal = new MinimalChatClient(new HttpClient(new CannedAnswerHandler()), new Uri("http://127.0.0.1:9/v1/chat/completions"), "bench-upstream");
        (_routingOnly, _) = Gateway(metering: false);
        (_metered, var services) = Gateway(metering: true);
        _ledger = services.GetRequiredService<LedgerWriter>();
        var (_, secret) = services.GetRequiredService<KeyService>().CreateAsync(AccountEntity.DefaultId,
            new NewKey("bench", KeyScope.Standard, "user-1", 1_000_000_000_000, LimitReset.None, null, null, null), CancellationToken.None).GetAwaiter().GetResult();
        _endUserOptions = new ChatOptions { ModelId = "bench-model", MaxOutputTokens = 512, AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } };

        // Every client answers the same text, so a broken path cannot look fast.
        foreach (var (client, options) in new[] { (_minimal, _bareOptions), (_bare, _bareOptions), (_routingOnly, _qlaudOptions), (_metered, _qlaudOptions), (_metered, _endUserOptions) })
        {
            var response = client.GetResponseAsync(_messages, options).GetAwaiter().GetResult();
            if (!response.Text.StartsWith("Your parcel", StringComparison.Ordinal) || response.Usage?.InputTokenCount != 412)
            {
                throw new InvalidOperationException($"Unexpected answer: {response.Text}");
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (services, path) in _gateways)
        {
            services.GetRequiredService<LedgerWriter>().StopAsync(CancellationToken.None).GetAwaiter().GetResult();
            services.DisposeAsync().AsTask().GetAwaiter().GetResult();
            SqliteConnection.ClearAllPools();
            foreach (string file in (ReadOnlySpan<string>)[path, path + "-wal", path + "-shm"])
            {
                File.Delete(file);
            }
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public Task Bare_Minimal() => CallAsync(_minimal, _bareOptions, metered: false);

    [Benchmark(OperationsPerInvoke = Calls)]
    public Task Bare_OpenAISdk() => CallAsync(_bare, _bareOptions, metered: false);

    [Benchmark(OperationsPerInvoke = Calls)]
    public Task Qlaud_RoutingOnly() => CallAsync(_routingOnly, _qlaudOptions, metered: false);

    [Benchmark(OperationsPerInvoke = Calls)]
    public Task Qlaud_Metered_InProcessCaller() => CallAsync(_metered, _qlaudOptions, metered: true);

    [Benchmark(OperationsPerInvoke = Calls)]
    public Task Qlaud_Metered_EndUserKey() => CallAsync(_metered, _endUserOptions, metered: true);

    private async Task CallAsync(IChatClient client, ChatOptions options, bool metered)
    {
        for (int i = 0; i < Calls; i++)
        {
            await client.GetResponseAsync(_messages, options);
        }

        if (metered)
        {
            await _ledger.FlushAsync();
        }
    }

    private (IChatClient Client, ServiceProvider Services) Gateway(bool metering)
    {
        string path = Path.Combine(Path.GetTempPath(), $"qlaud-bench-{Guid.NewGuid():N}.db");
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Bootstrap:MasterKey"] = MasterKey,
            ["Qlaud:Storage:ConnectionString"] = $"Data Source={path}",
            ["Qlaud:UseBuiltInCatalog"] = "false",
            ["Qlaud:Metering:Enabled"] = metering ? "true" : "false",
            ["Qlaud:Providers:bench:Dialect"] = "openai",
            ["Qlaud:Providers:bench:BaseUrl"] = "http://127.0.0.1:9/v1",
            ["Qlaud:Providers:bench:ApiKey"] = "x",
            ["Qlaud:Models:0:Id"] = "bench-model",
            ["Qlaud:Models:0:Routes:0:Provider"] = "bench",
            ["Qlaud:Models:0:Routes:0:UpstreamModel"] = "bench-upstream",
            ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:0:Routes:0:OutputPerMTok"] = "2",
        };
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging(static b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddQlaud();
        // The same in-memory transport as the bare client, in place of the sockets handler.
        services.AddHttpClient(QlaudServiceCollectionExtensions.UpstreamHttpClient).ConfigurePrimaryHttpMessageHandler(static () => new CannedAnswerHandler());
        var provider = services.BuildServiceProvider();
        provider.GetRequiredService<StorageInitializer>().EnsureInitializedAsync().GetAwaiter().GetResult();
        provider.GetRequiredService<LedgerWriter>().StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _gateways.Add((provider, path));
        return (provider.GetRequiredService<IChatClient>(), provider);
    }

    /// <summary>
    /// The least a bare client does: the messages written with <see cref="Utf8JsonWriter"/>, one POST, the answer's text and
    /// usage read with <see cref="Utf8JsonReader"/>-backed <see cref="JsonDocument"/>. No retries, no options beyond the model
    /// and max tokens: the strictest baseline for what a gateway adds.
    /// </summary>
    private sealed class MinimalChatClient(HttpClient http, Uri endpoint, string model) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var body = new ArrayBufferWriter<byte>(2048);
            using (var w = new Utf8JsonWriter(body))
            {
                w.WriteStartObject();
                w.WriteString("model", model);
                w.WriteStartArray("messages");
                foreach (var message in messages)
                {
                    w.WriteStartObject();
                    w.WriteString("role", message.Role.Value);
                    w.WriteString("content", message.Text);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                if (options?.MaxOutputTokens is { } max)
                {
                    w.WriteNumber("max_completion_tokens", max);
                }

                w.WriteEndObject();
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ReadOnlyMemoryContent(body.WrittenMemory) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer x");
            using var response = await http.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var json = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            var root = json.RootElement;
            var choice = root.GetProperty("choices")[0];
            var usage = root.GetProperty("usage");
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, choice.GetProperty("message").GetProperty("content").GetString()))
            {
                ResponseId = root.GetProperty("id").GetString(),
                ModelId = root.GetProperty("model").GetString(),
                FinishReason = ChatFinishReason.Stop,
                Usage = new UsageDetails
                {
                    InputTokenCount = usage.GetProperty("prompt_tokens").GetInt64(),
                    OutputTokenCount = usage.GetProperty("completion_tokens").GetInt64(),
                    TotalTokenCount = usage.GetProperty("total_tokens").GetInt64(),
                },
            };
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose() => http.Dispose();
    }

    /// <summary>The fake transport: reads the request body as a socket would take it, answers the canned completion.</summary>
    private sealed class CannedAnswerHandler : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is { } content)
            {
                await content.CopyToAsync(Stream.Null, cancellationToken);
            }

            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Answer), RequestMessage = request };
            response.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            return response;
        }
    }
}
