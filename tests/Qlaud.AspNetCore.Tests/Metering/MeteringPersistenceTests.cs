using System.Net;
using Microsoft.Data.Sqlite;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary>Keys, wallets and the ledger across a restart on the same SQLite file, and the ledger flush on a clean shutdown.</summary>
public sealed class MeteringPersistenceTests
{
    [Fact]
    public async Task Restart_SecondHostOnTheSameDatabase_KeepsKeysBalancesAndLedger()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString };
        string id, secret;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            (id, secret) = await first.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":1}""");
            using var admin = first.Http();
            await admin.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":20}""");
            await first.SettleAsync(await first.CallerAsync(secret), 250_000);
        }

        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        using var again = second.Http();
        var (keyStatus, key) = await again.GetJsonAsync($"/v1/keys/{id}");
        var (_, wallet) = await again.GetJsonAsync("/v1/wallet");
        using var user = second.Http(secret);

        Assert.Equal(HttpStatusCode.OK, keyStatus);
        Assert.Equal(0.25m, key.GetProperty("spend_usd").GetDecimal());
        Assert.Equal(0.75m, key.GetProperty("remaining_usd").GetDecimal());
        Assert.Equal(20_000_000 - 250_000, wallet.GetProperty("balance_micros").GetInt64());
        Assert.Equal(["usage", "credit"], wallet.GetProperty("recent_entries").EnumerateArray().Select(static e => e.GetProperty("kind").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Shutdown_WithSettledEntriesNotYetWritten_FlushesThemAll()
    {
        using var database = new TempDatabase();
        var settings = new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString };
        var gateway = await GatewayHost.StartAsync(settings: settings);
        var (_, secret) = await gateway.MintKeyAsync();
        var caller = await gateway.CallerAsync(secret);
        for (int i = 0; i < 300; i++)
        {
            await gateway.SettleAsync(caller, 3);
        }

        await gateway.DisposeAsync(); // graceful stop: the ledger writer commits what is queued

        await using var connection = new SqliteConnection(database.ConnectionString);
        await connection.OpenAsync();
        Assert.Equal(300L, await ScalarAsync(connection, "SELECT COUNT(*) FROM LedgerEntries WHERE Kind = 'Usage'"));
        Assert.Equal(-900L, await ScalarAsync(connection, "SELECT BalanceMicros FROM Wallets WHERE AccountId = 'default'"));
        Assert.Equal(900L, await ScalarAsync(connection, "SELECT SpendMicros FROM ApiKeys"));
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
