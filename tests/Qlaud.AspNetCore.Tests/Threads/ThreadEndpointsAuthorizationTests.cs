using System.Net;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>
/// Who sees which thread, for every thread endpoint: the master key and admin-scope keys see the account; an end-user key
/// sees its own end user's threads; another end user and another account get 404 (not 403: existence does not leak); no key, 401.
/// </summary>
public sealed class ThreadEndpointsAuthorizationTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;
    private string _admin = null!;
    private string _alice = null!;
    private string _bob = null!;
    private string _otherAccount = null!;
    private string _thread = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayHost.StartAsync();
        _admin = (await _gateway.MintKeyAsync("""{"scope":"admin"}""")).Secret;
        _alice = (await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret;
        _bob = (await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""")).Secret;
        _otherAccount = await _gateway.SecondAccountKeyAsync();
        using var alice = _gateway.Http(_alice);
        _thread = await alice.CreateThreadAsync("""{"title":"Alice's"}""");
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public static TheoryData<string, string, string?> Endpoints => new()
    {
        { "GET", "/v1/threads/{id}", null },
        { "PATCH", "/v1/threads/{id}", """{"title":"Renamed"}""" },
        { "GET", "/v1/threads/{id}/messages", null },
        { "POST", "/v1/threads/{id}/messages", """{"model":"fake-claude","max_tokens":50,"content":"hi"}""" },
        { "DELETE", "/v1/threads/{id}", null },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task ThreadEndpoint_EachKind_OwnerMasterAdminSeeOthers404NoKey401(string method, string path, string? body)
    {
        var expected = new (string Who, string? Key, HttpStatusCode Status)[]
        {
            ("no key", null, HttpStatusCode.Unauthorized),
            ("bob", _bob, HttpStatusCode.NotFound),
            ("other account", _otherAccount, HttpStatusCode.NotFound),
            ("alice", _alice, HttpStatusCode.OK),
            ("admin", _admin, HttpStatusCode.OK),
            ("master", GatewayHost.MasterKey, HttpStatusCode.OK),
        };
        foreach (var (who, key, status) in expected)
        {
            if (method == "DELETE" && status == HttpStatusCode.OK)
            {
                // Each allowed caller deletes a thread of Alice's of its own.
                using var alice = _gateway.Http(_alice);
                _thread = await alice.CreateThreadAsync();
            }

            using var http = _gateway.Http(key);
            var (actual, answer) = await JsonHttp.SendAsync(http, new HttpMethod(method), path.Replace("{id}", _thread, StringComparison.Ordinal), body);

            Assert.True(status == actual, $"{who}: expected {status}, got {actual}: {answer}");
            if (status != HttpStatusCode.OK)
            {
                Assert.Equal("error", answer.GetProperty("type").GetString());
            }
        }
    }

    [Fact]
    public async Task List_EachKind_SeesOnlyWhatItMay()
    {
        using (var bobClient = _gateway.Http(_bob))
        {
            await bobClient.CreateThreadAsync();
        }

        using (var master = _gateway.Http())
        {
            await master.CreateThreadAsync(); // the account's own thread, no end user
        }

        async Task<int> CountAsync(string? key, string query = "")
        {
            using var http = _gateway.Http(key);
            var (status, page) = await http.GetJsonAsync("/v1/threads" + query);
            Assert.Equal(HttpStatusCode.OK, status);
            return page.GetProperty("data").GetArrayLength();
        }

        using var anonymous = _gateway.Http(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetJsonAsync("/v1/threads")).Status);
        Assert.Equal(1, await CountAsync(_alice));
        Assert.Equal(1, await CountAsync(_alice, "?end_user_id=bob")); // an end-user key cannot widen its view
        Assert.Equal(1, await CountAsync(_bob));
        Assert.Equal(0, await CountAsync(_otherAccount));
        Assert.Equal(3, await CountAsync(_admin));
        Assert.Equal(3, await CountAsync(GatewayHost.MasterKey));
        Assert.Equal(1, await CountAsync(GatewayHost.MasterKey, "?end_user_id=bob"));
    }

    [Fact]
    public async Task Create_EndUserKeyNamingAnotherEndUser_403AndItsOwnIsImplied()
    {
        using var alice = _gateway.Http(_alice);

        var (forBob, _) = await alice.PostJsonAsync("/v1/threads", """{"end_user_id":"bob"}""");
        var (status, own) = await alice.PostJsonAsync("/v1/threads", "{}");

        Assert.Equal(HttpStatusCode.Forbidden, forBob);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("alice", own.GetProperty("end_user_id").GetString());
    }

    [Fact]
    public async Task EraseEndUser_EachKind_OnlyMasterAndAdmin()
    {
        var expected = new (string? Key, HttpStatusCode Status)[]
        {
            (null, HttpStatusCode.Unauthorized),
            (_alice, HttpStatusCode.Forbidden),
            (_admin, HttpStatusCode.OK),
            (GatewayHost.MasterKey, HttpStatusCode.OK),
        };
        foreach (var (key, status) in expected)
        {
            using var http = _gateway.Http(key);
            Assert.Equal(status, (await http.DeleteJsonAsync("/v1/end_users/carol")).Status);
        }

        using var other = _gateway.Http(_otherAccount);
        var (otherStatus, erased) = await other.DeleteJsonAsync("/v1/end_users/alice");
        using var alice = _gateway.Http(_alice);
        Assert.Equal(HttpStatusCode.OK, otherStatus);
        Assert.Equal(0, erased.GetProperty("threads_deleted").GetInt32()); // another account's erase reaches only its own rows
        Assert.Equal(HttpStatusCode.OK, (await alice.GetJsonAsync($"/v1/threads/{_thread}")).Status);
    }
}
