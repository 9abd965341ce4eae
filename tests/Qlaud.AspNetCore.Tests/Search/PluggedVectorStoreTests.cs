using System.Linq.Expressions;
using System.Net;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.VectorData;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.Search;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>
/// An app's own <c>Microsoft.Extensions.VectorData</c> collection plugged in with <c>AddQlaudVectorStore</c>: indexed messages'
/// vectors are upserted into it, semantic search over HTTP is answered from it with the caller's scope as its filter, and
/// erasing an end user deletes their records from it.
/// </summary>
public sealed class PluggedVectorStoreTests
{
    [Fact]
    public async Task Search_HitsComeFromThePluggedCollection_EraseDeletesTheRecords()
    {
        var collection = new ListCollection();
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Search:IndexPollMilliseconds"] = "50" },
            services: s => s
                .AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey, new WordHashEmbeddingGenerator())
                .AddQlaudVectorStore(collection));
        using var alice = gateway.Http((await gateway.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret);
        using var bob = gateway.Http((await gateway.MintKeyAsync("""{"end_user_id":"bob"}""")).Secret);
        using var master = gateway.Http();
        var (aliceUser, aliceReply) = await alice.TurnAsync(gateway, await alice.CreateThreadAsync(), "quokka photo from rottnest", "quokka smiles photo");
        var (bobUser, _) = await bob.TurnAsync(gateway, await bob.CreateThreadAsync(), "quokka photo for bob", "noted");
        await gateway.WaitIndexedAsync();

        Assert.Equal(4, collection.Records.Count);
        Assert.Equal(2, collection.Records.Values.Count(static r => r.EndUserId == "alice"));
        Assert.Equal(0, gateway.Services.GetRequiredService<VectorIndex>().Count); // nothing in the in-memory index

        int searchesBefore = collection.Searches;
        var aliceHits = (await alice.HitsAsync("q=quokka+photo&mode=semantic")).MessageIds();
        Assert.Equal(searchesBefore + 1, collection.Searches);
        Assert.Contains("r.EndUserId == \"alice\"", collection.LastFilter, StringComparison.Ordinal);
        Assert.Equal([aliceUser, aliceReply], aliceHits.Order());
        Assert.Contains(bobUser, (await master.HitsAsync("q=quokka+photo&mode=semantic")).MessageIds());

        var (status, erased) = await master.DeleteJsonAsync("/v1/end_users/alice");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, erased.GetProperty("search_entries_deleted").GetInt32());
        Assert.DoesNotContain(collection.Records.Values, static r => r.EndUserId == "alice");
        Assert.Equal(2, collection.Records.Count);
        Assert.Empty(await alice.HitsAsync("q=quokka+photo&mode=semantic"));
        Assert.Equal([bobUser], (await master.HitsAsync("q=quokka+photo&mode=semantic&limit=1")).MessageIds());
    }

    [Fact]
    public async Task IndexStatus_NothingPending_MeansEveryMessageIsSearchable_EvenWhileTheStoreIsSlow()
    {
        // A slow vector store: the indexer has committed a batch (its queue rows are gone) well before its vectors are in the
        // store. The status must not say "nothing pending" in between.
        var collection = new ListCollection { UpsertDelay = TimeSpan.FromMilliseconds(300) };
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Search:IndexPollMilliseconds"] = "50" },
            services: s => s
                .AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey, new WordHashEmbeddingGenerator())
                .AddQlaudVectorStore(collection));
        using var master = gateway.Http();
        var (user, reply) = await master.TurnAsync(gateway, await master.CreateThreadAsync(), "wombat burrow survey", "wombats dig burrows");
        await gateway.WaitIndexedAsync();

        Assert.Equal(2, collection.Records.Count);
        Assert.Equal(2, (await gateway.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Indexed);
        Assert.Equal([user, reply], (await master.HitsAsync("q=wombat+burrow&mode=semantic")).MessageIds().Order());
    }

    /// <summary>A small in-memory <see cref="VectorStoreCollection{TKey, TRecord}"/>: exact cosine search, filters compiled and applied.</summary>
    private sealed class ListCollection : VectorStoreCollection<string, QlaudVectorRecord>
    {
        private readonly Lock _lock = new();

        public Dictionary<string, QlaudVectorRecord> Records { get; } = [];

        public int Searches { get; private set; }

        public string LastFilter { get; private set; } = "";

        public override string Name => "qlaud-messages";

        public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);

        public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                Records.Clear();
            }

            return Task.CompletedTask;
        }

        public override Task<QlaudVectorRecord?> GetAsync(string key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                return Task.FromResult(Records.GetValueOrDefault(key));
            }
        }

        public override async IAsyncEnumerable<QlaudVectorRecord> GetAsync(Expression<Func<QlaudVectorRecord, bool>> filter, int top,
            FilteredRecordRetrievalOptions<QlaudVectorRecord>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            var match = filter.Compile();
            List<QlaudVectorRecord> found;
            lock (_lock)
            {
                found = [.. Records.Values.Where(match).Take(top)];
            }

            foreach (var record in found)
            {
                yield return record;
            }
        }

        public override Task DeleteAsync(string key, CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                Records.Remove(key);
            }

            return Task.CompletedTask;
        }

        /// <summary>How long each upsert takes (a remote vector database).</summary>
        public TimeSpan UpsertDelay { get; init; }

        public override async Task UpsertAsync(QlaudVectorRecord record, CancellationToken cancellationToken = default)
        {
            if (UpsertDelay > TimeSpan.Zero)
            {
                await Task.Delay(UpsertDelay, cancellationToken);
            }

            lock (_lock)
            {
                Records[record.Key] = record;
            }
        }

        public override async Task UpsertAsync(IEnumerable<QlaudVectorRecord> records, CancellationToken cancellationToken = default)
        {
            if (UpsertDelay > TimeSpan.Zero)
            {
                await Task.Delay(UpsertDelay, cancellationToken);
            }

            lock (_lock)
            {
                foreach (var record in records)
                {
                    Records[record.Key] = record;
                }
            }

            
        }

        public override async IAsyncEnumerable<VectorSearchResult<QlaudVectorRecord>> SearchAsync<TInput>(TInput searchValue, int top,
            VectorSearchOptions<QlaudVectorRecord>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            var query = searchValue is ReadOnlyMemory<float> memory ? memory : throw new NotSupportedException(typeof(TInput).Name);
            var match = options?.Filter?.Compile() ?? (static _ => true);
            List<VectorSearchResult<QlaudVectorRecord>> results;
            lock (_lock)
            {
                Searches++;
                LastFilter = options?.Filter?.ToString() ?? "";
                results = [.. Records.Values.Where(match)
                    .Select(r => new VectorSearchResult<QlaudVectorRecord>(r, TensorPrimitives.CosineSimilarity(r.Vector.Span, query.Span)))
                    .OrderByDescending(static r => r.Score)
                    .Take(top)];
            }

            foreach (var result in results)
            {
                yield return result;
            }
        }

        public override object? GetService(Type serviceType, object? serviceKey = null) => null;
    }
}
