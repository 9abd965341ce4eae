using System.Net;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Configuration;
using Qlaud.Connectors.Tests.Connections;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.Connectors.Tools;
using Qlaud.FakeProvider;
using Qlaud.Search;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>The ranking of <c>qlaud_search_tools</c>: BM25 over names and descriptions, the search embedding generator's
/// similarity, fused by reciprocal rank.</summary>
public sealed class ToolSearchTests
{
    private static readonly ToolDocument[] Documents =
    [
        new("Linear create issue", "Create an issue in a Linear team with a title and a description."),
        new("send email", "Send an email to one or more recipients."),
        new("web search", "Search the web and return the top results with titles, URLs and snippets."),
        new("GitHub get file", "Read a file from a GitHub repository at a ref."),
    ];

    private static ToolSearch Search(IEmbeddingGenerator<string, Embedding<float>>? generator)
    {
        var services = new ServiceCollection();
        if (generator is not null)
        {
            services.AddKeyedSingleton(QlaudSearchDefaults.EmbeddingGeneratorKey, generator);
        }

        var embedder = new SearchEmbedder(services.BuildServiceProvider(), Options.Create(new QlaudOptions()));
        return new ToolSearch(embedder, NullLogger<ToolSearch>.Instance);
    }

    [Fact]
    public async Task Keyword_MatchesWordForms_AndLeavesOutWhatDoesNotMatch()
    {
        var ranked = await Search(null).RankAsync("creating issues", Documents, 8, CancellationToken.None);

        Assert.Equal([0], ranked);
    }

    [Fact]
    public async Task Keyword_RanksByBm25_NameAboveDescription()
    {
        var ranked = await Search(null).RankAsync("search github file", Documents, 8, CancellationToken.None);

        Assert.Equal([3, 2], ranked);
    }

    [Fact]
    public async Task Semantic_FindsATool_ThatSharesNoWordWithTheIntent()
    {
        var ranked = await Search(new ConceptEmbeddings()).RankAsync("report a defect to the bug tracker", Documents, 8, CancellationToken.None);

        Assert.Equal([0], ranked); // "defect" and "bug" are issue-tracking concepts; email, web and GitHub files are below the similarity floor
    }

    [Fact]
    public async Task Hybrid_FusesBothLists_AndEmbedsEachToolOnce()
    {
        var generator = new ConceptEmbeddings();
        var search = Search(generator);

        var first = await search.RankAsync("mail the bug report", Documents, 8, CancellationToken.None);
        var second = await search.RankAsync("mail the bug report", Documents, 8, CancellationToken.None);

        Assert.Equal(2, first.Count);
        Assert.Equal([0, 1], first.Order());
        Assert.Equal(first, second);
        Assert.Equal(Documents.Length + 2, generator.Embedded); // the four tools once, the intent twice
    }

    [Fact]
    public async Task FailingGenerator_LeavesTheKeywordRanking()
    {
        var ranked = await Search(new ConceptEmbeddings { Fail = true }).RankAsync("send an email", Documents, 8, CancellationToken.None);

        Assert.Equal([1], ranked);
    }

    [Fact]
    public async Task MetaTool_OverHttp_RanksTheKnownToolsOfAConnectedConnector()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", "k_0123456789");
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear),
            services: s => s.AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey, new ConceptEmbeddings()));
        var (_, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        using (var browser = new ConnectBrowser())
        {
            await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), "k_0123456789");
        }

        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        gateway.Fake.Enqueue(FakeReply.ToolCall("qlaud_search_tools", """{"intent":"report a defect"}""", "toolu_s"), FakeReply.Text("Found it."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            """{"max_tokens":64,"tools_mode":"dynamic","content":"Report a defect"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        using var result = JsonDocument.Parse(reply.GetProperty("content")[1].GetProperty("content")[0].GetProperty("text").GetString()!);
        var results = result.RootElement.GetProperty("results").EnumerateArray().ToList();
        var hit = Assert.Single(results, static r => r.GetProperty("tool").GetString() == "linear__create_issue");
        Assert.True(hit.GetProperty("connected").GetBoolean());
        Assert.All(results, static r => Assert.Contains(r.GetProperty("type").GetString(), (string[])["connector", "builtin", "webhook"]));
    }

    /// <summary>Embeddings over a few hand-made concepts, so similarity is known exactly: issue tracking, email, the web, code files.</summary>
    private sealed class ConceptEmbeddings : IEmbeddingGenerator<string, Embedding<float>>
    {
        private static readonly string[][] Concepts =
        [
            ["issue", "bug", "defect", "ticket", "tracker", "linear"],
            ["email", "mail", "recipient"],
            ["web", "search", "url"],
            ["file", "repository", "github"],
        ];

        private int _embedded;

        public int Embedded => Volatile.Read(ref _embedded);

        public bool Fail { get; init; }

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            if (Fail)
            {
                throw new HttpRequestException("embedding service down");
            }

            var result = new GeneratedEmbeddings<Embedding<float>>();
            foreach (var text in values)
            {
                Interlocked.Increment(ref _embedded);
                var vector = new float[Concepts.Length + 1];
                vector[^1] = 0.05f; // never all zero
                string lower = text.ToLowerInvariant();
                for (int c = 0; c < Concepts.Length; c++)
                {
                    vector[c] = Concepts[c].Count(w => lower.Contains(w, StringComparison.Ordinal));
                }

                float norm = MathF.Sqrt(vector.Sum(static x => x * x));
                result.Add(new Embedding<float>(vector.Select(x => x / norm).ToArray()));
            }

            return Task.FromResult(result);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
