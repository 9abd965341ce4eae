using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Search;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>The durable indexing queue: messages persisted while the indexer could not finish are indexed after a restart.</summary>
public sealed class SearchIndexingTests
{
    [Fact]
    public async Task Restart_MessagesQueuedButNotIndexed_AreIndexedByTheNextStart()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString, ["Qlaud:Search:IndexPollMilliseconds"] = "50" };
        var stuck = new StuckEmbeddingGenerator();
        string thread, user, reply;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false,
            services: s => s.AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey, stuck)))
        {
            using var http = first.Http();
            thread = await http.CreateThreadAsync();
            (user, reply) = await http.TurnAsync(first, thread, "The quokka photo from Rottnest", "A quokka is famously photogenic.");
            await stuck.Called.Task.WaitAsync(TimeSpan.FromSeconds(15)); // the indexer holds the batch when the host stops
            Assert.Empty(await http.HitsAsync("q=quokka&mode=keyword"));
        }

        using (var check = new Microsoft.Data.Sqlite.SqliteConnection(database.ConnectionString))
        {
            check.Open();
            using var command = check.CreateCommand();
            command.CommandText = "SELECT (SELECT count(*) FROM search_queue) * 100 + (SELECT count(*) FROM search_documents)";
            Assert.Equal(200L, (long)command.ExecuteScalar()!); // both messages still queued, none indexed
        }

        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        await second.WaitIndexedAsync();
        using var again = second.Http();
        var status = await second.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync();

        Assert.Equal([user, reply], (await again.HitsAsync("q=quokka")).MessageIds().Order());
        Assert.Equal(2, status.Indexed);
        Assert.Equal(0, status.Pending);
        Assert.False(status.Semantic);
        Assert.NotNull(status.MaxLagMs);
    }

    /// <summary>An embedding generator that never answers: indexing hangs until the host stops.</summary>
    private sealed class StuckEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            Called.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
