using System.Net;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary><c>/v1/keys</c> over real HTTP.</summary>
public sealed class KeyEndpointsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Keys_MintListPatchRevoke_RevokedKeyGets401()
    {
        using var admin = _gateway.Http();

        var (created, key) = await admin.PostJsonAsync("/v1/keys",
            """{"name":"alice's key","scope":"standard","end_user_id":"alice","max_spend_usd":5,"expires_at":null,"rpm_limit":100,"tpm_limit":null}""");

        Assert.Equal(HttpStatusCode.Created, created);
        string id = key.GetProperty("id").GetString()!;
        string secret = key.GetProperty("secret").GetString()!;
        Assert.StartsWith("key_", id, StringComparison.Ordinal);
        Assert.Matches("^qlk_live_[0-9A-Za-z]{43}$", secret);
        Assert.Equal(secret[..15], key.GetProperty("prefix").GetString());
        Assert.Equal(("alice's key", "standard", "alice"), (key.GetProperty("name").GetString(), key.GetProperty("scope").GetString(), key.GetProperty("end_user_id").GetString()));
        Assert.Equal(5m, key.GetProperty("max_spend_usd").GetDecimal());
        Assert.True(DateTimeOffset.TryParse(key.GetProperty("created_at").GetString(), out _));

        using var user = _gateway.Http(secret);
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);

        var (listed, list) = await admin.GetJsonAsync("/v1/keys");
        Assert.Equal(HttpStatusCode.OK, listed);
        var entry = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal(id, entry.GetProperty("id").GetString());
        Assert.False(entry.TryGetProperty("secret", out _));
        Assert.DoesNotContain(secret[15..], list.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(0m, entry.GetProperty("spend_usd").GetDecimal());
        Assert.Equal(5m, entry.GetProperty("remaining_usd").GetDecimal());
        Assert.False(entry.GetProperty("revoked").GetBoolean());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("last_used_at").ValueKind);

        var (patched, changed) = await admin.PatchJsonAsync($"/v1/keys/{id}", """{"max_spend_usd":10,"disabled":true}""");
        Assert.Equal(HttpStatusCode.OK, patched);
        Assert.Equal(10m, changed.GetProperty("max_spend_usd").GetDecimal());
        Assert.True(changed.GetProperty("disabled").GetBoolean());
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.GetAsync("/v1/models")).StatusCode);
        await admin.PatchJsonAsync($"/v1/keys/{id}", """{"disabled":false}""");
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);

        var (revoked, gone) = await admin.DeleteJsonAsync($"/v1/keys/{id}");
        Assert.Equal(HttpStatusCode.OK, revoked);
        Assert.True(gone.GetProperty("revoked").GetBoolean());

        var (status, error) = await user.GetJsonAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_api_key", error.GetProperty("error").GetProperty("code").GetString());
        var chat = await user.PostAsync("/v1/chat/completions", new StringContent("""{"model":"fake-gpt","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, chat.StatusCode);
        Assert.Empty(_gateway.Fake.Requests);
        Assert.True((await admin.GetJsonAsync($"/v1/keys/{id}")).Body.GetProperty("revoked").GetBoolean());
    }

    [Fact]
    public async Task Keys_WithAStandardKey_Answer403()
    {
        var (_, secret) = await _gateway.MintKeyAsync();
        using var user = _gateway.Http(secret);

        var (status, body) = await user.PostJsonAsync("/v1/keys", "{}");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("insufficient_permissions", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetJsonAsync("/v1/keys")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetJsonAsync("/v1/wallet")).Status);
    }

    [Fact]
    public async Task Keys_AdminScopeKey_CanMintKeys()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"name":"ops","scope":"admin"}""");
        using var ops = _gateway.Http(secret);

        var (status, _) = await ops.PostJsonAsync("/v1/keys", """{"end_user_id":"bob"}""");

        Assert.Equal(HttpStatusCode.Created, status);
    }

    [Theory]
    [InlineData("""{"max_spend_usd":-1}""", "max_spend_usd")]
    [InlineData("""{"max_spend_usd":"5"}""", "max_spend_usd")]
    [InlineData("""{"max_spend_usd":0.0000001}""", "max_spend_usd")]
    [InlineData("""{"scope":"root"}""", "scope")]
    [InlineData("""{"limit_reset":"hourly"}""", "limit_reset")]
    [InlineData("""{"rpm_limit":0}""", "rpm_limit")]
    [InlineData("""{"expires_at":"soon"}""", "expires_at")]
    [InlineData("""[1]""", "JSON object")]
    public async Task CreateKey_InvalidField_Answers400NamingIt(string json, string named)
    {
        using var admin = _gateway.Http();

        var (status, body) = await admin.PostJsonAsync("/v1/keys", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(named, body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListKeys_MoreThanAPage_PaginatesWithNextCursor()
    {
        for (int i = 0; i < 3; i++)
        {
            await _gateway.MintKeyAsync($$"""{"end_user_id":"u{{i}}"}""");
        }

        using var admin = _gateway.Http();
        var (_, first) = await admin.GetJsonAsync("/v1/keys?limit=2");
        string cursor = first.GetProperty("next_cursor").GetString()!;
        var (_, second) = await admin.GetJsonAsync($"/v1/keys?limit=2&cursor={cursor}");

        Assert.True(first.GetProperty("has_more").GetBoolean());
        Assert.Equal(2, first.GetProperty("data").GetArrayLength());
        Assert.False(second.GetProperty("has_more").GetBoolean());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        var ids = first.GetProperty("data").EnumerateArray().Concat(second.GetProperty("data").EnumerateArray()).Select(static k => k.GetProperty("id").GetString()).ToList();
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetJsonAsync("/v1/keys?cursor=garbage!")).Status);
    }

    [Fact]
    public async Task PatchKey_DailyReset_ShowsRemainingAndNextReset()
    {
        var (id, _) = await _gateway.MintKeyAsync("""{"max_spend_usd":2.5}""");
        using var admin = _gateway.Http();

        var (status, key) = await admin.PatchJsonAsync($"/v1/keys/{id}", """{"limit_reset":"daily"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("daily", key.GetProperty("limit_reset").GetString());
        Assert.Equal(2.5m, key.GetProperty("remaining_usd").GetDecimal());
        var resetsAt = DateTimeOffset.Parse(key.GetProperty("resets_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.Zero, resetsAt.TimeOfDay);
        Assert.InRange(resetsAt - DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task PatchKey_UnknownField_Answers400AndChangesNothing()
    {
        var (id, _) = await _gateway.MintKeyAsync("""{"max_spend_usd":1}""");
        using var admin = _gateway.Http();

        var (status, body) = await admin.PatchJsonAsync($"/v1/keys/{id}", """{"max_spend":100}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("max_spend", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1m, (await admin.GetJsonAsync($"/v1/keys/{id}")).Body.GetProperty("max_spend_usd").GetDecimal());
    }

    [Fact]
    public async Task Keys_UnknownId_Answer404()
    {
        using var admin = _gateway.Http();

        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetJsonAsync("/v1/keys/key_nope")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PatchJsonAsync("/v1/keys/key_nope", """{"disabled":true}""")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteJsonAsync("/v1/keys/key_nope")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetJsonAsync("/v1/keys/key_nope/usage")).Status);
    }

    [Fact]
    public async Task Patch_AdminScopeKeyRaisesItsOwnCap_Answers403AndTheCapStays()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"name":"ops","scope":"admin","max_spend_usd":5}""");
        using var ops = _gateway.Http(secret);

        var (status, body) = await ops.PatchJsonAsync($"/v1/keys/{id}", """{"max_spend_usd":1000000}""");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("insufficient_permissions", body.GetProperty("error").GetProperty("code").GetString());
        using var admin = _gateway.Http();
        Assert.Equal(5m, (await admin.GetJsonAsync($"/v1/keys/{id}")).Body.GetProperty("max_spend_usd").GetDecimal());
    }

    [Fact]
    public async Task Keys_AdminScopeKeyMintsAnAdminKey_Answers403()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"name":"ops","scope":"admin"}""");
        using var ops = _gateway.Http(secret);

        var (status, _) = await ops.PostJsonAsync("/v1/keys", """{"scope":"admin"}""");

        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Keys_AdminScopeKeyChangesAStandardKey_Succeeds()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"name":"ops","scope":"admin"}""");
        var (userId, _) = await _gateway.MintKeyAsync();
        using var ops = _gateway.Http(secret);

        var (status, key) = await ops.PatchJsonAsync($"/v1/keys/{userId}", """{"max_spend_usd":2}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2m, key.GetProperty("max_spend_usd").GetDecimal());
    }
}
