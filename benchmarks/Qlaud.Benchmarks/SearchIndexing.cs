using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Search;
using Qlaud.Storage;
using Qlaud.Threads;

namespace Qlaud.Benchmarks;

/// <summary>
/// Indexing throughput: <paramref name="messages"/> thread messages persisted (and so queued) in a fresh SQLite database, then
/// indexed by the real <see cref="SearchIndex"/> batch by batch (queue read, text extraction, FTS5 and document writes, and
/// with MiniLM the embeddings), keyword-only and with the local MiniLM model. Run with
/// <c>dotnet run -c Release --project benchmarks/Qlaud.Benchmarks -- search-indexing [messages]</c>.
/// </summary>
internal static class SearchIndexing
{
    private static readonly string[] Sentences =
    [
        "My flight to Lisbon leaves at dawn on Friday and I still need a hotel near the river.",
        "The sourdough came out dense again; should the dough rise longer before baking?",
        "Our integration gets HTTP 429 from the API during the nightly import, how do we back off?",
        "Can you summarise the invoice INV-20931 dispute and what the customer was promised?",
        "The kitchen tap drips constantly even when it is fully closed.",
    ];

    public static async Task RunAsync(string[] args)
    {
        int messages = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        Console.WriteLine("| embeddings | messages | batch | seconds | messages/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        await MeasureAsync("none (keyword only)", messages, local: false);
        await MeasureAsync("MiniLM (local)", Math.Min(messages, 500), local: true);
    }

    private static async Task MeasureAsync(string name, int messages, bool local)
    {
        string path = Path.Combine(Path.GetTempPath(), $"qlaud-bench-{Guid.NewGuid():N}.db");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Qlaud:Storage:ConnectionString"] = $"Data Source={path}",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        var qlaud = services.AddQlaud();
        if (local)
        {
            qlaud.AddLocalEmbeddings();
        }

        await using (var provider = services.BuildServiceProvider())
        {
            var threads = provider.GetRequiredService<IQlaudThreads>();
            var store = provider.GetRequiredService<IThreadStore>();
            var index = provider.GetRequiredService<SearchIndex>();
            await index.EnsureLoadedAsync(default);
            var thread = await threads.CreateAsync(QlaudCaller.InProcess, new NewThread { EndUserId = "bench" });
            for (int i = 0; i < messages; i += 2)
            {
                await store.AppendTurnAsync(thread.Id, Message(thread.Id, "user", i), Message(thread.Id, "assistant", i + 1), null, i, default);
            }

            const int Batch = 64;
            long start = Stopwatch.GetTimestamp();
            int indexed = 0;
            while (await index.IndexBatchAsync(Batch, default) is > 0 and var taken)
            {
                indexed += taken;
            }

            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {indexed:N0} | {Batch} | {seconds:F2} | {indexed / seconds:N0} |"));
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string file in (string[])[path, path + "-wal", path + "-shm"])
        {
            File.Delete(file);
        }
    }

    private static ThreadMessageEntity Message(string threadId, string role, int i) => new()
    {
        Id = $"msg_bench{i:D10}",
        ThreadId = threadId,
        Role = role,
        ContentJson = System.Text.Json.JsonSerializer.Serialize(new[] { new { type = "text", text = $"{Sentences[i % Sentences.Length]} (message {i})" } }),
        Status = "complete",
        CreatedAtMs = i,
    };
}
