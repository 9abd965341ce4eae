using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Qlaud.Connectors;
using Qlaud.Connectors.Mcp;
using Qlaud.Connectors.Vault;
using Qlaud.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Qlaud's connectors to a gateway.</summary>
public static class QlaudConnectorsBuilderExtensions
{
    /// <summary>
    /// Adds the connector catalog (<c>Qlaud:Connectors</c>, validated at start-up), per-end-user connections with credentials
    /// encrypted by ASP.NET Core Data Protection (key ring in the gateway's database), connect links, and
    /// <see cref="IQlaudConnectors"/>. <c>AddQlaud()</c> calls it when Qlaud.AspNetCore is deployed with the app.
    /// </summary>
    /// <param name="builder">The Qlaud builder.</param>
    /// <returns>The builder.</returns>
    /// <remarks>Idempotent.</remarks>
    public static IQlaudBuilder AddConnectors(this IQlaudBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddQlaudConnectors(builder.Services);
        return builder;
    }

    /// <summary>Configures the Data Protection key ring that protects connector credentials, for example to encrypt its keys
    /// with a certificate (<c>ProtectKeysWithCertificate</c>) so a copy of the database alone cannot decrypt them.</summary>
    /// <param name="builder">The Qlaud builder.</param>
    /// <param name="configure">Configures the key ring's <see cref="IDataProtectionBuilder"/>; its key repository stays the database.</param>
    /// <returns>The builder.</returns>
    public static IQlaudBuilder ConfigureCredentialKeyRing(this IQlaudBuilder builder, Action<IDataProtectionBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.AddConnectors();
        builder.Services.AddSingleton(new CredentialKeyRingConfiguration(configure));
        return builder;
    }

    internal static void AddQlaudConnectors(IServiceCollection services)
    {
        if (services.Any(static d => d.ServiceType == typeof(ConnectorsMarker)))
        {
            return;
        }

        services.AddSingleton<ConnectorsMarker>();
        services.AddOptions<ConnectorsOptions>().BindConfiguration(ConnectorsOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ConnectorsOptions>, ConnectorsOptionsValidator>());
        services.TryAddSingleton(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<ConnectorsOptions>>().Value; // throws OptionsValidationException naming the keys
            var (catalog, errors) = ConnectorCatalog.Build(options);
            return catalog ?? throw new OptionsValidationException(ConnectorsOptions.SectionName, typeof(ConnectorsOptions), errors);
        });
        services.TryAddSingleton<CredentialVault>();
        services.TryAddSingleton<McpConnector>();
        services.TryAddSingleton<ToolIndex>();
        services.TryAddSingleton<QlaudConnectors>();
        services.TryAddSingleton<IQlaudConnectors>(static sp => sp.GetRequiredService<QlaudConnectors>());
        services.AddOptions<Qlaud.Connectors.Builtins.BuiltinsOptions>().BindConfiguration(Qlaud.Connectors.Builtins.BuiltinRegistration.SectionName);
        services.TryAddSingleton<Qlaud.Connectors.Tools.ToolBilling>();
        services.TryAddSingleton<Qlaud.Connectors.Tools.ToolSearch>();
        services.TryAddSingleton<Qlaud.Connectors.Tools.WebhookDispatcher>();
        services.TryAddSingleton<Qlaud.Connectors.Tools.QlaudTools>();
        services.TryAddSingleton<IQlaudTools>(static sp => sp.GetRequiredService<Qlaud.Connectors.Tools.QlaudTools>());
        services.TryAddSingleton<Qlaud.Connectors.Tools.ThreadToolLoop>();
        services.TryAddSingleton<Qlaud.Threads.IThreadToolLoop>(static sp => sp.GetRequiredService<Qlaud.Connectors.Tools.ThreadToolLoop>());
        services.TryAddSingleton<Qlaud.Connectors.Tools.McpServersLoop>();
        services.AddHostedService<ConnectionSweep>();
        Qlaud.Connectors.Builtins.BuiltinCatalog.AddAll(services);
        services.TryAddSingleton<Qlaud.Connectors.Builtins.WebFetch.IHostResolver, Qlaud.Connectors.Builtins.WebFetch.DnsHostResolver>();
        services.AddHttpClient(McpConnector.RequestServersHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(static sp => GuardedHandler(sp))
            .RemoveAllLoggers();
        services.AddHttpClient(Qlaud.Connectors.Tools.WebhookDispatcher.HttpClientName, static client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(static sp => GuardedHandler(sp))
            .RemoveAllLoggers()
            .AddStandardResilienceHandler(static resilience =>
            {
                // Every retry carries the same Idempotency-Key; the loop's own ToolCallTimeoutSeconds bounds the whole call.
                resilience.Retry.MaxRetryAttempts = 2;
                resilience.Retry.Delay = TimeSpan.FromMilliseconds(200);
                resilience.Retry.ShouldHandle = static args => ValueTask.FromResult(
                    args.Outcome.Exception?.InnerException is not Qlaud.Connectors.Tools.SsrfRefusedException // a refused address stays refused
                    && Microsoft.Extensions.Http.Resilience.HttpClientResiliencePredicates.IsTransient(args.Outcome));
                resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(30);
                resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(600);
                resilience.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(60);
            });
        services.AddHttpClient(McpConnector.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            })
            .RemoveAllLoggers(); // request URLs and headers of connector calls stay out of the logs
    }

    /// <summary>A handler for URLs that requests and apps bring (<c>mcp_servers</c>, webhook tools): it resolves the host itself when it
    /// opens a connection and refuses private addresses unless <c>Qlaud:Connectors:AllowPrivateNetworks</c>, so a name that resolves
    /// to a public address when the URL is checked and to a private one when it is used (DNS rebinding) is refused too.</summary>
    private static SocketsHttpHandler GuardedHandler(IServiceProvider services)
    {
        bool allowPrivate = services.GetRequiredService<IOptions<ConnectorsOptions>>().Value.AllowPrivateNetworks;
        var resolver = services.GetRequiredService<Qlaud.Connectors.Builtins.WebFetch.IHostResolver>();
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false, // a proxy would be the connection the guard sees, not the target
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = (context, cancellationToken) => Qlaud.Connectors.Tools.SsrfGuard.ConnectAsync(context.DnsEndPoint, resolver.ResolveAsync,
                (_, _) => allowPrivate, cancellationToken),
        };
    }

    /// <summary>Marks that connectors were added.</summary>
    internal sealed class ConnectorsMarker;
}
