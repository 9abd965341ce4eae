using System.Net;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>
/// <c>GET /v1/search</c> over real HTTP without an embedding model (keyword search): ranked hits with highlighted snippets,
/// the filters, isolation between end users and accounts, GDPR deletes removing every index entry, and bad input. On SQLite
/// (BM25 and FTS5 snippets) here, and on PostgreSQL (<c>ts_rank_cd</c> and <c>ts_headline</c>) in <see cref="SearchEndpointsPostgresTests"/>.
/// </summary>
public class SearchEndpointsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;
    private string _alice = null!;
    private string _bob = null!;

    /// <summary>The storage settings of the gateway under test; none (a fresh SQLite file) here.</summary>
    protected virtual Task<Dictionary<string, string?>> StorageSettingsAsync() => Task.FromResult(new Dictionary<string, string?>());

    /// <summary>Rows of the full-text index holding text.</summary>
    protected virtual string TextRowsSql => "SELECT count(*) FROM search_fts";

    /// <summary>Rows of the full-text index matching any of <paramref name="words"/>.</summary>
    protected virtual string TextRowsMatchingSql(params string[] words) => $"SELECT count(*) FROM search_fts WHERE search_fts MATCH '{string.Join(" OR ", words)}'";

    public virtual async Task InitializeAsync()
    {
        var settings = await StorageSettingsAsync();
        settings["Qlaud:Search:IndexPollMilliseconds"] = "50";
        _gateway = await GatewayHost.StartAsync(settings: settings);
        _alice = (await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret;
        _bob = (await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""")).Secret;
    }

    public virtual async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Keyword_MatchingMessages_HitsWithHighlightedSnippetsBestFirst()
    {
        using var alice = _gateway.Http(_alice);
        string thread = await alice.CreateThreadAsync();
        var (user, reply) = await alice.TurnAsync(_gateway, thread, "My flight to Lisbon leaves at dawn on Friday.", "Lisbon in spring is mild; pack a light jacket for Lisbon evenings.");
        await alice.TurnAsync(_gateway, thread, "Unrelated: what is a good pasta recipe?", "Try cacio e pepe.");
        await _gateway.WaitIndexedAsync();

        var (status, body) = await alice.SearchAsync("q=lisbon&mode=keyword");
        var hits = body.GetProperty("data").EnumerateArray().ToList();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal([reply, user], hits.MessageIds()); // two occurrences in the reply rank it first
        var top = hits[0];
        Assert.Equal("search.hit", top.GetProperty("object").GetString());
        Assert.Equal(thread, top.GetProperty("thread_id").GetString());
        Assert.Equal("assistant", top.GetProperty("role").GetString());
        Assert.Contains("<mark>Lisbon</mark>", top.GetProperty("snippet").GetString());
        Assert.True(top.GetProperty("score").GetDouble() > hits[1].GetProperty("score").GetDouble());
        Assert.True(top.GetProperty("created_ms").GetInt64() > 0);
    }

    [Fact]
    public async Task Keyword_AccentsAndCase_FoldedBothWays()
    {
        using var alice = _gateway.Http(_alice);
        string thread = await alice.CreateThreadAsync();
        var (user, _) = await alice.TurnAsync(_gateway, thread, "We met at the CAFÉ near the Señora's bakery.", "Nice.");
        await _gateway.WaitIndexedAsync();

        Assert.Equal([user], (await alice.HitsAsync("q=cafe")).MessageIds());
        Assert.Equal([user], (await alice.HitsAsync("q=SENORA")).MessageIds());
        Assert.Contains("<mark>CAFÉ</mark>", (await alice.HitsAsync("q=café"))[0].GetProperty("snippet").GetString());
    }

    [Fact]
    public async Task Filters_ThreadAndTimeRangeAndLimit_NarrowTheHits()
    {
        using var alice = _gateway.Http(_alice);
        string first = await alice.CreateThreadAsync();
        string second = await alice.CreateThreadAsync();
        var (a, b) = await alice.TurnAsync(_gateway, first, "kiwi one", "kiwi two");
        await Task.Delay(20);
        var (c, d) = await alice.TurnAsync(_gateway, second, "kiwi three", "kiwi four");
        await _gateway.WaitIndexedAsync();
        var all = await alice.HitsAsync("q=kiwi&limit=10");
        long secondTurnMs = all.Single(h => h.GetProperty("message_id").GetString() == c).GetProperty("created_ms").GetInt64();

        Assert.Equal(4, all.Count);
        Assert.Equal([a, b], (await alice.HitsAsync($"q=kiwi&thread_id={first}")).MessageIds().Order());
        Assert.Equal([c, d], (await alice.HitsAsync($"q=kiwi&after_ms={secondTurnMs - 1}")).MessageIds().Order());
        Assert.Equal([a, b], (await alice.HitsAsync($"q=kiwi&before_ms={secondTurnMs}")).MessageIds().Order());
        Assert.Single(await alice.HitsAsync("q=kiwi&limit=1"));
    }

    [Fact]
    public async Task Isolation_EndUsersAndAccounts_SeeOnlyTheirOwnHits()
    {
        using var alice = _gateway.Http(_alice);
        using var bob = _gateway.Http(_bob);
        using var master = _gateway.Http();
        string other = await _gateway.SecondAccountKeyAsync();
        using var otherAccount = _gateway.Http(other);
        var (aliceUser, aliceReply) = await alice.TurnAsync(_gateway, await alice.CreateThreadAsync(), "the zephyr password is hunter2", "noted zephyr");
        var (bobUser, bobReply) = await bob.TurnAsync(_gateway, await bob.CreateThreadAsync(), "zephyr plans for bob", "zephyr ok");
        await _gateway.WaitIndexedAsync();

        Assert.Equal([aliceUser, aliceReply], (await alice.HitsAsync("q=zephyr")).MessageIds().Order());
        Assert.Equal([aliceUser, aliceReply], (await alice.HitsAsync("q=zephyr&end_user_id=bob")).MessageIds().Order()); // cannot widen its view
        Assert.Equal([bobUser, bobReply], (await bob.HitsAsync("q=zephyr")).MessageIds().Order());
        Assert.Equal(4, (await master.HitsAsync("q=zephyr")).Count);
        Assert.Equal([bobUser, bobReply], (await master.HitsAsync("q=zephyr&end_user_id=bob")).MessageIds().Order());
        Assert.Empty(await otherAccount.HitsAsync("q=zephyr"));
        Assert.Empty(await otherAccount.HitsAsync("q=zephyr&end_user_id=alice"));
        using var anonymous = _gateway.Http(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SearchAsync("q=zephyr")).Status);
    }

    [Fact]
    public async Task DeleteThread_RemovesItsMessagesFromTheIndex()
    {
        using var alice = _gateway.Http(_alice);
        string doomed = await alice.CreateThreadAsync();
        string kept = await alice.CreateThreadAsync();
        await alice.TurnAsync(_gateway, doomed, "walrus tusks", "walrus facts");
        var (keptUser, _) = await alice.TurnAsync(_gateway, kept, "walrus again", "ok");
        await _gateway.WaitIndexedAsync();
        Assert.Equal(3, (await alice.HitsAsync("q=walrus")).Count);

        var (status, _) = await alice.DeleteJsonAsync($"/v1/threads/{doomed}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([keptUser], (await alice.HitsAsync("q=walrus")).MessageIds());
        Assert.Equal(0, _gateway.Count($"SELECT count(*) FROM search_documents WHERE \"ThreadId\" = '{doomed}'"));
        Assert.Equal(2, _gateway.Count("SELECT count(*) FROM search_documents"));
        Assert.Equal(2, _gateway.Count(TextRowsSql));
        Assert.Equal(0, _gateway.Count(TextRowsMatchingSql("tusks")));
    }

    [Fact]
    public async Task EraseEndUser_RemovesTheirIndexEntriesAndCountsThem()
    {
        using var alice = _gateway.Http(_alice);
        using var bob = _gateway.Http(_bob);
        using var master = _gateway.Http();
        await alice.TurnAsync(_gateway, await alice.CreateThreadAsync(), "gdpr marmalade one", "marmalade two");
        await alice.TurnAsync(_gateway, await alice.CreateThreadAsync(), "marmalade three", "marmalade four");
        var (bobUser, bobReply) = await bob.TurnAsync(_gateway, await bob.CreateThreadAsync(), "marmalade bob", "marmalade reply");
        await _gateway.WaitIndexedAsync();

        var (status, erased) = await master.DeleteJsonAsync("/v1/end_users/alice");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4, erased.GetProperty("search_entries_deleted").GetInt32());
        Assert.Equal(4, erased.GetProperty("messages_deleted").GetInt32());
        Assert.Equal([bobUser, bobReply], (await master.HitsAsync("q=marmalade")).MessageIds().Order());
        Assert.Empty(await alice.HitsAsync("q=marmalade"));
        Assert.Equal(0, _gateway.Count("SELECT count(*) FROM search_documents WHERE \"EndUserId\" = 'alice'"));
        Assert.Equal(0, _gateway.Count(TextRowsMatchingSql("gdpr", "three", "four", "one")));
        Assert.Equal(2, _gateway.Count(TextRowsSql));
    }

    [Theory]
    [InlineData("", "'q' is required")]
    [InlineData("q=%20", "'q' is required")]
    [InlineData("q=x&limit=0", "'limit'")]
    [InlineData("q=x&limit=101", "'limit'")]
    [InlineData("q=x&limit=ten", "'limit'")]
    [InlineData("q=x&mode=fuzzy", "'mode'")]
    [InlineData("q=x&after_ms=yesterday", "'after_ms'")]
    [InlineData("q=x&mode=semantic", "Semantic search needs an embedding model")]
    public async Task BadRequest_400InTheOpenAIEnvelope(string query, string message)
    {
        using var http = _gateway.Http();

        var (status, body) = await http.SearchAsync(query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(message, body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Query_FtsSyntaxAndQuotes_TreatedAsPlainWords()
    {
        using var alice = _gateway.Http(_alice);
        var (user, _) = await alice.TurnAsync(_gateway, await alice.CreateThreadAsync(), "say \"NEAR\" and AND OR NOT please", "fine");
        await _gateway.WaitIndexedAsync();

        Assert.Equal([user], (await alice.HitsAsync("q=" + Uri.EscapeDataString("\"NEAR( AND* OR -NOT:"))).MessageIds());
    }
}
