using System.Net;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Accounts;

/// <summary><c>/v1/accounts</c> over real HTTP: tenants with their own master key, wallet, keys and usage.</summary>
public sealed class AccountEndpointsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<(string Id, string MasterKey)> CreateAccountAsync(string name = "tenant")
    {
        using var operatorHttp = _gateway.Http();
        var (status, account) = await operatorHttp.PostJsonAsync("/v1/accounts", $$"""{"name":"{{name}}"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return (account.GetProperty("id").GetString()!, account.GetProperty("master_key").GetProperty("secret").GetString()!);
    }

    [Fact]
    public async Task Create_ReturnsAccountWithItsMasterKeyOnce()
    {
        using var operatorHttp = _gateway.Http();

        var (status, account) = await operatorHttp.PostJsonAsync("/v1/accounts", """{"name":"Acme"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("account", account.GetProperty("object").GetString());
        Assert.Equal("Acme", account.GetProperty("name").GetString());
        Assert.False(account.GetProperty("disabled").GetBoolean());
        var master = account.GetProperty("master_key");
        Assert.Equal("master", master.GetProperty("scope").GetString());
        Assert.StartsWith("qlk_live_", master.GetProperty("secret").GetString(), StringComparison.Ordinal);
        string id = account.GetProperty("id").GetString()!;
        var (_, fetched) = await operatorHttp.GetJsonAsync($"/v1/accounts/{id}");
        Assert.False(fetched.TryGetProperty("master_key", out _));
        var (_, list) = await operatorHttp.GetJsonAsync("/v1/accounts");
        Assert.Equal(new[] { "default", id }.Order(StringComparer.Ordinal), list.GetProperty("data").EnumerateArray().Select(static a => a.GetProperty("id").GetString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Create_MasterKeyCannotBeStored_LeavesNoAccountBehind()
    {
        using var database = new TempDatabase();
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString });
        using var operatorHttp = gateway.Http();
        Assert.Equal(HttpStatusCode.OK, (await operatorHttp.GetJsonAsync("/v1/accounts")).Status);
        await using (var sqlite = new Microsoft.Data.Sqlite.SqliteConnection(database.ConnectionString))
        {
            await sqlite.OpenAsync();
            using var trigger = sqlite.CreateCommand();
            trigger.CommandText = "CREATE TRIGGER refuse_keys BEFORE INSERT ON \"ApiKeys\" BEGIN SELECT RAISE(ABORT, 'disk full'); END";
            await trigger.ExecuteNonQueryAsync();
        }

        using var response = await operatorHttp.PostAsync("/v1/accounts", new StringContent("""{"name":"half"}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var (_, list) = await operatorHttp.GetJsonAsync("/v1/accounts");
        Assert.Equal(["default"], list.GetProperty("data").EnumerateArray().Select(static a => a.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task TenantMasterKey_SeesOnlyItsOwnKeysWalletAndUsage()
    {
        var (defaultKeyId, defaultSecret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        await _gateway.SettleAsync(await _gateway.CallerAsync(defaultSecret), 50);
        var (tenantId, tenantMaster) = await CreateAccountAsync();
        using var tenant = _gateway.Http(tenantMaster);

        var (minted, tenantKey) = await tenant.PostJsonAsync("/v1/keys", """{"end_user_id":"bob"}""");
        var (_, keys) = await tenant.GetJsonAsync("/v1/keys");
        var (otherKey, _) = await tenant.GetJsonAsync($"/v1/keys/{defaultKeyId}");
        var (_, wallet) = await tenant.GetJsonAsync("/v1/wallet");
        var (_, usage) = await tenant.GetJsonAsync("/v1/usage");

        Assert.Equal(HttpStatusCode.Created, minted);
        Assert.DoesNotContain(keys.GetProperty("data").EnumerateArray(), k => k.GetProperty("id").GetString() == defaultKeyId);
        Assert.Contains(keys.GetProperty("data").EnumerateArray(), k => k.GetProperty("id").GetString() == tenantKey.GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, otherKey);
        Assert.Equal(tenantId, wallet.GetProperty("account_id").GetString());
        Assert.Equal(0, wallet.GetProperty("balance_micros").GetInt64());
        Assert.Equal(0, usage.GetProperty("totals").GetProperty("cost_micros").GetInt64());
        using var operatorHttp = _gateway.Http();
        Assert.DoesNotContain((await operatorHttp.GetJsonAsync("/v1/keys")).Body.GetProperty("data").EnumerateArray(), k => k.GetProperty("id").GetString() == tenantKey.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Disable_TenantKeysGet401UntilReEnabled()
    {
        var (tenantId, tenantMaster) = await CreateAccountAsync();
        using var tenant = _gateway.Http(tenantMaster);
        var (_, userKey) = await tenant.PostJsonAsync("/v1/keys", """{"end_user_id":"bob"}""");
        using var user = _gateway.Http(userKey.GetProperty("secret").GetString());
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);
        using var operatorHttp = _gateway.Http();

        var (disabled, account) = await operatorHttp.PostJsonAsync($"/v1/accounts/{tenantId}/disable", "{}");

        Assert.Equal(HttpStatusCode.OK, disabled);
        Assert.True(account.GetProperty("disabled").GetBoolean());
        foreach (var client in (HttpClient[])[tenant, user])
        {
            var (status, body) = await client.GetJsonAsync("/v1/models");
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Equal("account_disabled", body.GetProperty("error").GetProperty("code").GetString());
        }

        using var chat = await user.PostAsync("/v1/messages", new StringContent("""{"model":"fake-claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, chat.StatusCode);
        using (var error = JsonDocument.Parse(await chat.Content.ReadAsStringAsync()))
        {
            Assert.Equal("authentication_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }

        Assert.Empty(_gateway.Fake.Requests);
        Assert.Equal(HttpStatusCode.OK, (await operatorHttp.PatchJsonAsync($"/v1/accounts/{tenantId}", """{"disabled":false}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Disable_DefaultAccount_Answers400()
    {
        using var operatorHttp = _gateway.Http();

        var (status, body) = await operatorHttp.PatchJsonAsync("/v1/accounts/default", """{"disabled":true}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("default account", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_UnknownAccount_Answers404()
    {
        using var operatorHttp = _gateway.Http();

        Assert.Equal(HttpStatusCode.NotFound, (await operatorHttp.GetJsonAsync("/v1/accounts/acct_nope")).Status);
    }
}
