using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
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
/// <para>EF's own discovery loads every type of the assembly, and loading a type loads the assemblies its layout names (an
/// async state machine awaiting an Npgsql or SQLite task, say): the other provider's assemblies would be loaded at every
/// start-up, and the whole of <c>Qlaud.Core</c>'s types with them. This reads the type names from the assembly's metadata
/// instead and loads only the types of the provider's namespace.</para>
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
                foreach (var type in ProviderTypes())
                {
                    if (type.IsSubclassOf(typeof(Migration)) && type.GetCustomAttribute<DbContextAttribute>()?.ContextType == _contextType
                        && type.GetCustomAttribute<MigrationAttribute>() is { } migration)
                    {
                        own.Add(migration.Id, type);
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
                var type = ProviderTypes().FirstOrDefault(t => t.IsSubclassOf(typeof(ModelSnapshot))
                    && t.GetCustomAttribute<DbContextAttribute>()?.ContextType == _contextType);
                _snapshot = type is null ? null : (ModelSnapshot)Activator.CreateInstance(type)!;
                _snapshotFound = true;
            }

            return _snapshot;
        }
    }

    /// <summary>The top-level types of the provider's migrations namespace, found by name in the assembly's metadata so that no
    /// other type is loaded (in a single-file app, where the assembly has no file to read, by loading them all).</summary>
    internal IEnumerable<TypeInfo> ProviderTypes()
    {
        string path = Assembly.Location;
        if (path.Length == 0 || !File.Exists(path))
        {
            return Assembly.DefinedTypes.Where(t => t.Namespace == _namespace && !t.IsNested);
        }

        var names = new List<string>();
        using (var pe = new PEReader(File.OpenRead(path)))
        {
            var metadata = pe.GetMetadataReader();
            foreach (var handle in metadata.TypeDefinitions)
            {
                var definition = metadata.GetTypeDefinition(handle);
                if (definition.GetDeclaringType().IsNil && metadata.StringComparer.Equals(definition.Namespace, _namespace))
                {
                    names.Add($"{_namespace}.{metadata.GetString(definition.Name)}");
                }
            }
        }

        return names.Select(name => Assembly.GetType(name, throwOnError: true)!.GetTypeInfo());
    }
}
#pragma warning restore EF1001
