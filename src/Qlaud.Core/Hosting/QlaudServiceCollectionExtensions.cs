using System.Net;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Embeddings;
using Qlaud.Forwarding;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Hosting;
using Qlaud.Hosting;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Qlaud in a service collection.</summary>
public static class QlaudServiceCollectionExtensions
{
    /// <summary>The named <see cref="HttpClient"/> used for real providers.</summary>
    internal const string UpstreamHttpClient = "Qlaud.Upstream";

    /// <summary>The tag of Qlaud's readiness checks (the database answers, the ledger writer keeps up).</summary>
    public const string ReadyTag = "ready";

    /// <summary>The name of the health check that reads the database.</summary>
    public const string StorageHealthCheckName = "qlaud_storage";

    /// <summary>The name of the health check of the ledger writer.</summary>
    public const string LedgerHealthCheckName = "qlaud_ledger";

    /// <summary>
    /// The service key of Qlaud's gateway <see cref="IChatClient"/> without any decorator (routing, fallback and providers
    /// only), for an app that composes its own pipeline:
    /// <c>services.AddChatClient(sp =&gt; sp.GetRequiredKeyedService&lt;IChatClient&gt;(GatewayChatClientKey)).UseQlaudThreads().UseQlaudMetering()</c>.
    /// </summary>
    public const string GatewayChatClientKey = "qlaud.gateway";

    /// <summary>The named <see cref="HttpClient"/> of the built-in offline provider.</summary>
    internal const string EchoHttpClient = "Qlaud.Echo";

    /// <summary>
    /// Adds the Qlaud gateway: options bound from the <c>Qlaud</c> configuration section and validated at start-up,
    /// the model catalog, the router, provider HTTP clients, an <see cref="IChatClient"/> that routes by
    /// <see cref="ChatOptions.ModelId"/> and an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings to
    /// <see cref="Embedding{T}"/> of <see cref="float"/> that routes by <see cref="EmbeddingGenerationOptions.ModelId"/> to embedding
    /// models; both metered when <c>Qlaud:Metering:Enabled</c>. Either is registered only when the app has not registered its own.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Optional code configuration, applied after the configuration section.</param>
    /// <remarks>Calling it more than once is harmless: registrations are idempotent.</remarks>
    public static IQlaudBuilder AddQlaud(this IServiceCollection services, Action<QlaudOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new QlaudBuilder(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(static d => d.ServiceType == typeof(QlaudMarker)))
        {
            return builder;
        }

        services.AddSingleton<QlaudMarker>();
        services.AddOptions<QlaudOptions>().BindConfiguration(QlaudOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QlaudOptions>, QlaudOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();

        services.TryAddSingleton(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<QlaudOptions>>().Value; // throws OptionsValidationException naming the keys
            var (catalog, errors) = CatalogBuilder.Build(options, Environment.GetEnvironmentVariable);
            return catalog ?? throw new OptionsValidationException(QlaudOptions.SectionName, typeof(QlaudOptions), errors);
        });
        services.TryAddSingleton(static sp => new RouteHealthRegistry(
            sp.GetRequiredService<ModelCatalog>(),
            sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Routing,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<RouteHealthRegistry>>()));
        services.TryAddSingleton(static sp => new Router(sp.GetRequiredService<ModelCatalog>(), sp.GetRequiredService<RouteHealthRegistry>()));
        services.TryAddSingleton<AttemptPolicy>();
        services.TryAddSingleton(static sp => new UpstreamConnector(
            sp.GetRequiredService<ModelCatalog>(),
            TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Routing.ConnectTimeoutSeconds)));
        services.TryAddSingleton<UpstreamClient>();
        services.TryAddSingleton<Qlaud.Security.ThinkingSignatures>();
        services.TryAddSingleton<ChatForwarder>();
        AddStorageAndMetering(services);
        services.TryAddSingleton<Qlaud.Security.KeyAuthenticator>();
        services.TryAddSingleton<QlaudChatClient>();
        services.TryAddKeyedSingleton<IChatClient>(GatewayChatClientKey, static (sp, _) => sp.GetRequiredService<QlaudChatClient>());
        // Composition, outermost first: metering (reserve before any upstream call, settle after) → routing and providers.
        services.TryAddSingleton<IChatClient>(static sp => sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Metering.Enabled
            ? new MeteringChatClient(sp.GetRequiredService<QlaudChatClient>(), sp.GetRequiredService<ISpendGuard>(), sp.GetRequiredService<QlaudCallerResolver>(), sp.GetRequiredService<Router>())
            : sp.GetRequiredService<QlaudChatClient>());
        services.TryAddSingleton<QlaudEmbeddingGenerator>();
        // The same composition for embeddings; an app's own IEmbeddingGenerator registered before AddQlaud() wins.
        services.TryAddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(static sp => sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Metering.Enabled
            ? new MeteringEmbeddingGenerator(sp.GetRequiredService<QlaudEmbeddingGenerator>(), sp.GetRequiredService<ISpendGuard>(), sp.GetRequiredService<QlaudCallerResolver>(), sp.GetRequiredService<Router>())
            : sp.GetRequiredService<QlaudEmbeddingGenerator>());
        // Image generation: routed and metered per image; the images it serves at limited-time URLs live in the image store.
        services.TryAddSingleton<Qlaud.Images.QlaudImages>();
        services.TryAddSingleton<Qlaud.Images.IQlaudImages>(static sp => sp.GetRequiredService<Qlaud.Images.QlaudImages>());
        services.TryAddSingleton<Qlaud.Images.ImageStore>();

        services.AddHttpClient(UpstreamHttpClient)
            .ConfigurePrimaryHttpMessageHandler(static sp => new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                // Each provider's connect timeout is applied by the connector; the handler's own limit stays out of the way.
                ConnectTimeout = Timeout.InfiniteTimeSpan,
                ConnectCallback = sp.GetRequiredService<UpstreamConnector>().ConnectAsync,
                AutomaticDecompression = DecompressionMethods.None, // passthrough relays the upstream's bytes
                UseCookies = false,
                MaxConnectionsPerServer = int.MaxValue,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan) // the SocketsHttpHandler recycles connections itself
            .RemoveAllLoggers(); // per-request logging scopes cost time on the hot path; Qlaud logs attempts itself
        services.AddHttpClient(EchoHttpClient)
            .ConfigurePrimaryHttpMessageHandler(static sp => new EchoHandler(sp.GetRequiredService<TimeProvider>()))
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        StripeServiceRegistration.AddStripeTopUps(services);
        AddHttpSurface(services);
        return builder;
    }

    /// <summary>The assembly-qualified name of the HTTP surface's registration (Qlaud.AspNetCore).</summary>
    private const string HttpSurfaceRegistration = "Qlaud.AspNetCore.Authentication.QlaudAuthenticationRegistration, Qlaud.AspNetCore";

    /// <summary>Registers the HTTP surface's key authentication scheme and authorization policies when the app ships
    /// Qlaud.AspNetCore. Core does not reference ASP.NET Core, and <c>AddQlaud()</c> stays the one registration call: the
    /// authentication and authorization middleware must see these services before the app is built, earlier than <c>MapQlaud()</c>.</summary>
    [System.Diagnostics.CodeAnalysis.DynamicDependency("Register", "Qlaud.AspNetCore.Authentication.QlaudAuthenticationRegistration", "Qlaud.AspNetCore")]
    private static void AddHttpSurface(IServiceCollection services)
    {
        var registration = Type.GetType(HttpSurfaceRegistration, throwOnError: false);
        registration?.GetMethod("Register", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
            ?.Invoke(null, [services]);
    }

    private static void AddStorageAndMetering(IServiceCollection services)
    {
        // Qlaud:Storage:Provider (SQLite by default) with Qlaud:Storage:ConnectionString, unless the app chose a store in code
        // (UseSqlite(...), UsePostgres(...)).
        services.TryAddSingleton<IStorageProvider>(static sp => StorageProviders.FromOptions(sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Storage));
        services.AddDbContextFactory<QlaudDbContext>(static (sp, builder) =>
        {
            sp.GetRequiredService<IStorageProvider>().Configure(builder);
            // Every ledger batch and key lookup is a command: log them at Debug, not at EF's default Information. Migrating at
            // start-up does not compare the model with the migrations' snapshot (a second, design-time model and a diff of the
            // two, built at every start): the migrations ship with the build, and StorageInitializerTests fails a build whose
            // model has changes no migration carries.
            builder.ConfigureWarnings(static w => w.Log((RelationalEventId.CommandExecuted, LogLevel.Debug)).Ignore(RelationalEventId.PendingModelChangesWarning));
        }, ServiceLifetime.Singleton);
        services.TryAddSingleton<StorageInitializer>();
        services.TryAddSingleton<KeyRegistry>();
        services.TryAddSingleton<AccountRegistry>();
        services.TryAddSingleton<LedgerWriter>();
        services.TryAddSingleton<Qlaud.Metering.Leasing.LeaseNode>();
        services.TryAddSingleton<Qlaud.Metering.Leasing.RateLimitShare>();
        services.TryAddSingleton<Qlaud.Metering.Leasing.BudgetLeases>();
        services.TryAddSingleton<SpendGuard>();
        services.TryAddSingleton<ISpendGuard>(static sp => sp.GetRequiredService<SpendGuard>());
        services.TryAddSingleton<KeyService>();
        services.TryAddSingleton<Qlaud.Accounts.AccountService>();
        services.TryAddSingleton<WalletService>();
        services.TryAddSingleton<Qlaud.Billing.IWalletLedger, WalletLedger>();
        services.TryAddSingleton<Qlaud.Billing.UnappliedPaymentService>();
        services.TryAddSingleton<Qlaud.Billing.UnappliedPaymentSweep>();
        services.TryAddSingleton<UsageService>();
        services.TryAddSingleton<QlaudCallerResolver>();
        services.TryAddSingleton<Qlaud.Search.SearchIndexSignal>();
        services.TryAddSingleton<Qlaud.Threads.IThreadStore, Qlaud.Threads.EfThreadStore>();
        services.TryAddSingleton<Qlaud.Threads.IThreadTurnLock>(static sp => sp.GetRequiredService<IStorageProvider>().CreateThreadTurnLock());
        services.TryAddSingleton<Qlaud.Threads.ThreadTurnEngine>();
        services.TryAddSingleton<Qlaud.Threads.IQlaudThreads, Qlaud.Threads.QlaudThreads>();
        services.TryAddSingleton<Qlaud.Search.ISearchStore>(static sp => sp.GetRequiredService<IStorageProvider>().CreateSearchStore(sp));
        services.TryAddSingleton<Qlaud.Search.VectorIndex>();
        services.TryAddSingleton<Qlaud.Search.ISearchVectors>(static sp => sp.GetRequiredService<Qlaud.Search.VectorIndex>());
        services.TryAddSingleton<Qlaud.Search.SearchEmbedder>();
        services.TryAddSingleton<Qlaud.Search.SearchIndex>();
        services.TryAddSingleton<Qlaud.Search.SearchIndexer>();
        services.TryAddSingleton<Qlaud.Search.IQlaudSearch, Qlaud.Search.QlaudSearch>();
        services.TryAddSingleton<Qlaud.Batches.BatchFiles>();
        services.TryAddSingleton<Qlaud.Batches.BatchStore>();
        services.TryAddSingleton<Qlaud.Batches.BatchRequestRunner>();
        services.TryAddSingleton<Qlaud.Batches.NativeBatchRunner>();
        services.TryAddSingleton<Qlaud.Batches.BatchResultWriter>();
        services.TryAddSingleton<Qlaud.Batches.BatchWorker>();
        services.TryAddSingleton<Qlaud.Batches.QlaudBatches>();
        services.TryAddSingleton<Qlaud.Batches.IQlaudBatches>(static sp => sp.GetRequiredService<Qlaud.Batches.QlaudBatches>());

        // Readiness (GET /readyz with MapQlaudHealthChecks(), or any MapHealthChecks of the app): tagged "ready".
        services.AddHealthChecks()
            .AddCheck<Qlaud.Health.StorageHealthCheck>(StorageHealthCheckName, tags: [ReadyTag])
            .AddCheck<Qlaud.Health.LedgerHealthCheck>(LedgerHealthCheckName, tags: [ReadyTag]);

        // Start order: migrations before anything reads the store; the ledger writer stops after the server drained
        // (hosted services stop in reverse order, and the web server is registered after these).
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<StorageInitializer>());
        // Before the ledger writer, so stopped after it: leases are handed back once every settled charge is committed.
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<Qlaud.Metering.Leasing.BudgetLeases>());
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<LedgerWriter>());
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<Qlaud.Billing.UnappliedPaymentSweep>());
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Search.Enabled
            ? sp.GetRequiredService<Qlaud.Search.SearchIndexer>()
            : new Qlaud.Search.NoSearchIndexer());

        // After the ledger writer: stopped before it, so the results of requests finishing during shutdown are charged and written.
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<Qlaud.Batches.BatchWorker>());
        services.TryAddSingleton<Qlaud.Threads.ThreadRetentionSweep>();
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<Qlaud.Threads.ThreadRetentionSweep>());
    }

    /// <summary>Marks that <see cref="AddQlaud"/> ran, so <c>MapQlaud()</c> can tell a missing registration.</summary>
    internal sealed class QlaudMarker;
}
