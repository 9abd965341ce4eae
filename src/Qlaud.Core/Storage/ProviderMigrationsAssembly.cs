using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Internal;

namespace Qlaud.Storage;

/// <summary>The migrations of the active provider only: SQLite's and PostgreSQL's live in one assembly, told apart by namespace.</summary>
/// <remarks>
/// EF Core finds migrations and the model snapshot by their <c>[DbContext]</c> attribute, which both sets carry; this keeps
/// the types under <c>Qlaud.Storage.Sqlite.Migrations</c> or <c>Qlaud.Storage.Postgres.Migrations</c>, chosen by the context's
/// provider. It serves <c>dotnet ef migrations add</c> too, so a new migration diffs against its own provider's snapshot.
/// </remarks>
#pragma warning disable EF1001 // MigrationsAssembly is EF's internal default; only its type discovery is narrowed here.
internal sealed class ProviderMigrationsAssembly(
    ICurrentDbContext currentContext, IDbContextOptions options, IMigrationsIdGenerator idGenerator, IDiagnosticsLogger<DbLoggerCategory.Migrations> logger)
    : MigrationsAssembly(currentContext, options, idGenerator, logger)
{
    /// <summary>The namespace of SQLite's migrations.</summary>
    public const string SqliteNamespace = "Qlaud.Storage.Sqlite.Migrations";

    /// <summary>The namespace of PostgreSQL's migrations.</summary>
    public const string PostgresNamespace = "Qlaud.Storage.Postgres.Migrations";

    private readonly string _namespace = currentContext.Context.Database.ProviderName switch
    {
        "Npgsql.EntityFrameworkCore.PostgreSQL" => PostgresNamespace,
        _ => SqliteNamespace,
    };

    private readonly Type _contextType = currentContext.Context.GetType();
    private IReadOnlyDictionary<string, TypeInfo>? _migrations;
    private ModelSnapshot? _snapshot;
    private bool _snapshotFound;

    /// <summary>Replaces EF's migrations assembly service with this one on <paramref name="builder"/>.</summary>
    public static void Use(DbContextOptionsBuilder builder) => builder.ReplaceService<IMigrationsAssembly, ProviderMigrationsAssembly>();

    public override IReadOnlyDictionary<string, TypeInfo> Migrations
    {
        get
        {
            if (_migrations is null)
            {
                var own = new SortedList<string, TypeInfo>(StringComparer.Ordinal);
                foreach (var (id, type) in base.Migrations)
                {
                    if (type.Namespace == _namespace)
                    {
                        own.Add(id, type);
                    }
                }

                _migrations = own;
            }

            return _migrations;
        }
    }

    public override ModelSnapshot? ModelSnapshot
    {
        get
        {
            if (!_snapshotFound)
            {
                var type = Assembly.GetTypes().FirstOrDefault(t => t.Namespace == _namespace && t.IsSubclassOf(typeof(ModelSnapshot))
                    && t.GetCustomAttribute<DbContextAttribute>()?.ContextType == _contextType);
                _snapshot = type is null ? null : (ModelSnapshot)Activator.CreateInstance(type)!;
                _snapshotFound = true;
            }

            return _snapshot;
        }
    }
}
#pragma warning restore EF1001
