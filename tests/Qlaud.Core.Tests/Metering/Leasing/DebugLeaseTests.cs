using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;
using Xunit.Abstractions;

namespace Qlaud.Core.Tests.Metering.Leasing;

public sealed class DebugLeaseTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Debug()
    {
        await using var h = await MeteringHarness.StartAsync(storage: MeteringHarness.Postgres, logs: new LogSink((c, l, id, m) => { if (l >= Microsoft.Extensions.Logging.LogLevel.Information) output.WriteLine($"{c} {l} {id.Name} {m}"); }));
        var (key, secret, caller) = await h.MintAsync(capMicros: 1_000);
        h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(800), default)).Reservation!, MeteringHarness.Used(800));
        await h.Ledger.FlushAsync();
        await Dump(h, "after settle");
        await h.RestartAsync();
        await Dump(h, "after restart");
        var again = (await h.Authenticator.AuthenticateAsync(secret, default)).Caller!;
        var d0 = await h.Guard.ReserveAsync(again, MeteringHarness.Estimate(201), default);
        output.WriteLine(d0.Error?.Message ?? "admitted");
        await Dump(h, "after 201");
        var d = await h.Guard.ReserveAsync(again, MeteringHarness.Estimate(200), default);
        output.WriteLine(d.Error?.Message ?? "admitted");
        await Dump(h, "after reserve");
    }

    private async Task Dump(MeteringHarness h, string when)
    {
        await using var db = h.Db();
        var conn = db.Database.GetDbConnection();
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT 'key', \"Id\", \"PeriodSpendMicros\", \"LeasedMicros\" FROM \"ApiKeys\" UNION ALL SELECT 'lease', subject_id || '/' || node_id, amount_micros, expires_at_ms FROM budget_leases";
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            output.WriteLine($"{when}: {r.GetString(0)} {r.GetString(1)} {r.GetInt64(2)} {r.GetInt64(3)}");
        }
    }
}
