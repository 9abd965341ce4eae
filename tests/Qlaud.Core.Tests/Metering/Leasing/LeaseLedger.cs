using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;

namespace Qlaud.Core.Tests.Metering.Leasing;

/// <summary>What the shared PostgreSQL database says about one key and one wallet: spend, balance, the leased totals, the
/// lease rows and the ledger's sums.</summary>
internal sealed record LeaseLedger(long Cap, long PeriodSpend, long KeyLeased, long KeyLeaseRows, long KeyLedger,
    long Balance, long WalletLeased, long WalletLeaseRows, long WalletLedger, int LeaseRows)
{
    public static async Task<LeaseLedger> ReadAsync(MeteringHarness h, string keyId, string accountId = "default")
    {
        await using var db = h.Db();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT COALESCE(k."MaxSpendMicros", 9223372036854775807), k."PeriodSpendMicros", k."LeasedMicros",
                   (SELECT COALESCE(SUM(amount_micros), 0)::bigint FROM budget_leases WHERE subject_kind = 0 AND subject_id = k."Id"),
                   (SELECT COALESCE(SUM("CostMicros"), 0)::bigint FROM "LedgerEntries" WHERE "KeyId" = k."Id"),
                   w."BalanceMicros", w."LeasedMicros",
                   (SELECT COALESCE(SUM(amount_micros), 0)::bigint FROM budget_leases WHERE subject_kind = 1 AND subject_id = w."AccountId"),
                   (SELECT COALESCE(SUM("AmountMicros"), 0)::bigint FROM "LedgerEntries" WHERE "AccountId" = w."AccountId"),
                   (SELECT count(*)::int FROM budget_leases)
            FROM "ApiKeys" k, "Wallets" w WHERE k."Id" = @key AND w."AccountId" = @account
            """;
        var key = command.CreateParameter();
        key.ParameterName = "key";
        key.Value = keyId;
        command.Parameters.Add(key);
        var account = command.CreateParameter();
        account.ParameterName = "account";
        account.Value = accountId;
        command.Parameters.Add(account);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return new LeaseLedger(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
            reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt32(9));
    }

    /// <summary>The invariants that hold after every committed statement, whatever the interleaving.</summary>
    public void AssertInvariant(bool walletEnforced)
    {
        Assert.True(PeriodSpend + KeyLeased <= Cap, $"key: spend {PeriodSpend} + leased {KeyLeased} > cap {Cap}");
        Assert.Equal(KeyLeaseRows, KeyLeased);
        Assert.Equal(WalletLeaseRows, WalletLeased);
        if (walletEnforced)
        {
            Assert.True(WalletLeased <= Balance, $"wallet: leased {WalletLeased} > balance {Balance}");
        }

        Assert.Equal(KeyLedger, PeriodSpend);
    }
}
