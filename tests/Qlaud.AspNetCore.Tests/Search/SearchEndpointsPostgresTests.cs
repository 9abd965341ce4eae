using Qlaud.Tests.Postgres;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>Every test of <see cref="SearchEndpointsTests"/> on PostgreSQL (<c>Qlaud:Storage:Provider = postgres</c>), on a
/// fresh database of the test process's throwaway PostgreSQL server.</summary>
public sealed class SearchEndpointsPostgresTests : SearchEndpointsTests
{
    private PostgresServer _server = null!;
    private string _database = null!;

    protected override async Task<Dictionary<string, string?>> StorageSettingsAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
        return new()
        {
            ["Qlaud:Storage:Provider"] = "postgres",
            ["Qlaud:Storage:ConnectionString"] = _database,
        };
    }

    protected override string TextRowsSql => "SELECT count(*) FROM search_documents WHERE \"FoldedText\" <> '' AND \"Terms\" <> ''::tsvector";

    protected override string TextRowsMatchingSql(params string[] words)
        => $"SELECT count(*) FROM search_documents WHERE \"Terms\" @@ to_tsquery('simple', '{string.Join(" | ", words)}')";

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _server.DropDatabaseAsync(_database);
    }
}
