using Qlaud.Core.Tests.Billing;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Core.Tests.Metering;
using Qlaud.Core.Tests.Security;

namespace Qlaud.Core.Tests.Storage;

// The storage contract tests (ledger, keys, wallets, payments, usage) once more on PostgreSQL: each class runs every test
// of its SQLite base (LedgerSessionTests stays SQLite-only: it compares SQLite's native statements with the command
// path, which LedgerWriterPostgresTests covers on PostgreSQL) on a fresh database of the test process's throwaway PostgreSQL 15 server (PostgresServer).

public sealed class SpendGuardPostgresTests : SpendGuardTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class LedgerWriterPostgresTests : LedgerWriterTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class WalletServicePostgresTests : WalletServiceTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class WalletLedgerPostgresTests : WalletLedgerTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class KeyServicePostgresTests : KeyServiceTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class KeyAuthenticatorPostgresTests : KeyAuthenticatorTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class UsageServicePostgresTests : UsageServiceTests
{
    protected override string Storage => MeteringHarness.Postgres;
}

public sealed class UnappliedPaymentServicePostgresTests : UnappliedPaymentServiceTests
{
    protected override string Storage => MeteringHarness.Postgres;
}
