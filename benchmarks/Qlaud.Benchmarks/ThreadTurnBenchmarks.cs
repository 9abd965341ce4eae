using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qlaud.FakeProvider;
using Qlaud.Storage;

namespace Qlaud.Benchmarks;

/// <summary>
/// What a managed thread turn costs over the same call to <c>POST /v1/messages</c>: the real <c>AddQlaud()</c> /
/// <c>MapQlaud()</c> gateway on Kestrel at 127.0.0.1 (SQLite file, metering on), an Anthropic-dialect fake upstream over
/// loopback HTTP (no latency), and an <see cref="HttpClient"/> posting to the gateway.
/// </summary>
/// <remarks>
/// <para>Baseline: <c>POST /v1/messages</c> with the whole conversation (<see cref="HistoryTurns"/> earlier turns and the new
/// user message), as a client that keeps its own history sends it. <c>ThreadTurn</c>: <c>POST /v1/threads/{id}/messages</c>
/// with only the new user message; the gateway loads the same history, fits it to the context window, sends the same
/// upstream request and persists both messages.</para>
/// <para>The history is seeded into the store as turns store it (content blocks and each message's token count).</para>
/// <para>Each iteration runs one turn on each of <see cref="Threads"/> threads that hold exactly <see cref="HistoryTurns"/>
/// turns; the turns an iteration added are deleted before the next (outside the measurement), so every measured turn sees
/// the same history.</para>
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12, invocationCount: Threads)]
public class ThreadTurnBenchmarks
{
    private const int Threads = 64;
    private const string MasterKey = "qlk_live_BenchmarkMasterKey0000000000000000000000";
    private const string NewTurn = "Given all that, which two cities would you pick for a first visit in May, and why?";

    private string _path = null!;
    private FakeProviderServer _fake = null!;
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private string[] _threadIds = null!;
    private byte[] _messagesBody = null!;
    private byte[] _turnBody = null!;
    private int _next;

    /// <summary>Earlier turns (a user message and a reply each) in the conversation.</summary>
    [Params(10, 100)]
    public int HistoryTurns { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _path = Path.Combine(Path.GetTempPath(), $"qlaud-bench-{Guid.NewGuid():N}.db");
        _fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { RecordRequests = false });
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Qlaud:Bootstrap:MasterKey"] = MasterKey,
            ["Qlaud:Storage:ConnectionString"] = $"Data Source={_path}",
            ["Qlaud:UseBuiltInCatalog"] = "false",
            ["Qlaud:Routing:MaxRetries"] = "0",
            ["Qlaud:Providers:fakeanthropic:Dialect"] = "anthropic",
            ["Qlaud:Providers:fakeanthropic:BaseUrl"] = _fake.BaseUri.ToString(),
            ["Qlaud:Providers:fakeanthropic:ApiKey"] = "sk-ant-fake",
            ["Qlaud:Models:0:Id"] = "bench-claude",
            ["Qlaud:Models:0:ContextLength"] = "200000",
            ["Qlaud:Models:0:Routes:0:Provider"] = "fakeanthropic",
            ["Qlaud:Models:0:Routes:0:UpstreamModel"] = "upstream-claude",
            ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "3",
            ["Qlaud:Models:0:Routes:0:OutputPerMTok"] = "15",
        });
        builder.Services.AddQlaud();
        _app = builder.Build();
        _app.MapQlaud();
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);

        var history = History(HistoryTurns);
        _threadIds = new string[Threads];
        for (int i = 0; i < Threads; i++)
        {
            using var created = await _http.PostAsync("/v1/threads", Json("""{"model":"bench-claude"}"""));
            using var document = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
            _threadIds[i] = document.RootElement.GetProperty("id").GetString()!;
        }

        await SeedAsync(history);
        _turnBody = Encoding.UTF8.GetBytes($$"""{"max_tokens":256,"content":{{JsonSerializer.Serialize(NewTurn)}}}""");
        var messages = new StringBuilder("""{"model":"bench-claude","max_tokens":256,"messages":[""");
        foreach (var (role, text) in history)
        {
            messages.Append($$"""{"role":"{{role}}","content":[{"type":"text","text":{{JsonSerializer.Serialize(text)}}}]},""");
        }

        messages.Append($$"""{"role":"user","content":[{"type":"text","text":{{JsonSerializer.Serialize(NewTurn)}}}]}]}""");
        _messagesBody = Encoding.UTF8.GetBytes(messages.ToString());

        // Both paths answer, and the thread turn sends the whole history.
        using (var baseline = await PostAsync("/v1/messages", _messagesBody))
        {
            baseline.EnsureSuccessStatusCode();
        }

        using (var turn = await PostAsync($"/v1/threads/{_threadIds[0]}/messages", _turnBody))
        {
            turn.EnsureSuccessStatusCode();
            using var answer = JsonDocument.Parse(await turn.Content.ReadAsStringAsync());
            int sent = answer.RootElement.GetProperty("context").GetProperty("messages_sent").GetInt32();
            if (sent != (2 * HistoryTurns) + 1)
            {
                throw new InvalidOperationException($"The turn sent {sent} messages, not {(2 * HistoryTurns) + 1}.");
            }
        }

        await ResetAsync();
    }

    [IterationSetup]
    public void IterationSetup() => ResetAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _fake.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_path + suffix);
        }
    }

    [Benchmark(Baseline = true)]
    public async Task Messages()
    {
        using var response = await PostAsync("/v1/messages", _messagesBody);
        await response.Content.CopyToAsync(Stream.Null);
    }

    [Benchmark]
    public async Task ThreadTurn()
    {
        string id = _threadIds[_next++ % Threads];
        using var response = await PostAsync($"/v1/threads/{id}/messages", _turnBody);
        await response.Content.CopyToAsync(Stream.Null);
    }

    private Task<HttpResponseMessage> PostAsync(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return _http.PostAsync(path, content);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A realistic conversation: questions of a sentence or two, answers of a paragraph.</summary>
    private static List<(string Role, string Text)> History(int turns)
    {
        var history = new List<(string, string)>(turns * 2);
        for (int i = 0; i < turns; i++)
        {
            history.Add(("user", $"Question {i}: I am planning a trip through Italy for two weeks in May. What should I know about trains between Rome, Florence and Venice, and is it worth booking ahead?"));
            history.Add(("assistant", $"Answer {i}: Trains between Rome, Florence and Venice are fast and frequent: the high-speed Frecciarossa and Italo services take about 1 h 30 min from Rome to Florence and 2 h from Florence to Venice. Booking a few weeks ahead saves money on the fixed-price fares, while regional trains need no booking at all. Validate paper tickets for regional trains before boarding, keep an eye on strikes announced in advance, and leave an hour of slack when a connection matters."));
        }

        return history;
    }

    private async Task SeedAsync(List<(string Role, string Text)> history)
    {
        var factory = _app.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var contents = history.Select(static m => JsonSerializer.Serialize(new[] { new Dictionary<string, string> { ["type"] = "text", ["text"] = m.Text } })).ToArray();
        long seq = 0;
        foreach (var id in _threadIds)
        {
            seq = 0;
            foreach (var (role, _) in history)
            {
                string content = contents[seq];
                db.ThreadMessages.Add(new ThreadMessageEntity
                {
                    Id = $"msg_{id[4..]}{seq:D6}",
                    ThreadId = id,
                    Seq = seq++,
                    Role = role,
                    ContentJson = content,
                    ContextTokens = Qlaud.Threads.ContextWindow.Estimate(role, content), // as a turn stores it
                    Model = "bench-claude",
                    Status = "complete",
                    CreatedAtMs = 1,
                });
            }
        }

        await db.SaveChangesAsync();
        await db.Threads.ExecuteUpdateAsync(s => s.SetProperty(static t => t.NextSeq, seq));
    }

    /// <summary>Deletes the turns taken since the seed, so every thread holds <see cref="HistoryTurns"/> turns again.</summary>
    private async Task ResetAsync()
    {
        var factory = _app.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        long seeded = 2L * HistoryTurns;
        await db.ThreadMessages.Where(m => m.Seq >= seeded).ExecuteDeleteAsync();
        await db.Threads.ExecuteUpdateAsync(s => s.SetProperty(static t => t.NextSeq, seeded));
        _next = 0;
    }
}
