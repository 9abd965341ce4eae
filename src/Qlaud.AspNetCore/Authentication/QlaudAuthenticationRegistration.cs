using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Qlaud.Security;

namespace Qlaud.AspNetCore.Authentication;

/// <summary>Registers the Qlaud key scheme and the policies of <see cref="QlaudAuthorizationPolicies"/>; called by <c>AddQlaud()</c>.</summary>
internal static class QlaudAuthenticationRegistration
{
    private const string Scheme = QlaudAuthenticationDefaults.AuthenticationScheme;

    private static readonly QlaudError NeedsAdmin = new(QlaudErrorKind.Permission,
        "This endpoint needs the account's master key or an admin-scope key.", "insufficient_permissions");

    private static readonly QlaudError NeedsMaster = new(QlaudErrorKind.Permission,
        "This endpoint needs the account's master key.", "insufficient_permissions");

    private static readonly QlaudError NeedsOperator = new(QlaudErrorKind.Permission,
        "This endpoint needs the gateway's bootstrap key (Qlaud:Bootstrap:MasterKey).", "insufficient_permissions");

    /// <summary>ASP.NET Core Data Protection's start-up service, which loads (or creates) the key ring before the first request.</summary>
    private const string DataProtectionWarmUp = "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService";

    /// <summary>Adds authentication (without choosing a default scheme), the Qlaud key scheme, authorization and the policies.</summary>
    /// <remarks>Authentication and antiforgery bring in ASP.NET Core Data Protection, whose key ring only the hosted connect
    /// page's antiforgery tokens (and an app's own cookies) use: unless the app registered Data Protection itself, the key ring
    /// is loaded on first use instead of at start-up, which keeps its XML stack out of an idle gateway.</remarks>
    public static void Register(IServiceCollection services)
    {
        bool appWarmsKeyRing = HasDataProtectionWarmUp(services);
        services.TryAddSingleton<FailedAuthenticationLimiter>();
        // Connectors ship with the HTTP surface: the catalog, connections and the hosted connect page (antiforgery-protected).
        QlaudConnectorsBuilderExtensions.AddQlaudConnectors(services);
        services.AddAntiforgery();
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, QlaudKeyAuthenticationHandler>(Scheme, displayName: null, static _ => { });
        services.AddAuthorization(static options =>
        {
            // A scope claim, not just any authenticated user: an app's own scheme may have authenticated the request too.
            options.AddPolicy(QlaudAuthorizationPolicies.AnyKey, static p => p.AddAuthenticationSchemes(Scheme).RequireClaim(QlaudClaimTypes.Scope));
            options.AddPolicy(QlaudAuthorizationPolicies.AccountAdmin, static p => p.AddAuthenticationSchemes(Scheme).RequireClaim(QlaudClaimTypes.Scope, "operator", "master", "admin"));
            options.AddPolicy(QlaudAuthorizationPolicies.AccountMaster, static p => p.AddAuthenticationSchemes(Scheme).RequireClaim(QlaudClaimTypes.Scope, "operator", "master"));
            options.AddPolicy(QlaudAuthorizationPolicies.Operator, static p => p.AddAuthenticationSchemes(Scheme).RequireClaim(QlaudClaimTypes.Scope, "operator"));
        });
        if (!appWarmsKeyRing)
        {
            for (int i = services.Count - 1; i >= 0; i--)
            {
                if (IsDataProtectionWarmUp(services[i]))
                {
                    services.RemoveAt(i);
                }
            }
        }
    }

    private static bool HasDataProtectionWarmUp(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (IsDataProtectionWarmUp(descriptor))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsDataProtectionWarmUp(ServiceDescriptor descriptor)
        => descriptor.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService)
            && !descriptor.IsKeyedService
            && descriptor.ImplementationType?.FullName == DataProtectionWarmUp;

    /// <summary>The 403 of a Qlaud <paramref name="policy"/> that <paramref name="scope"/> does not meet; null when it is not a
    /// Qlaud policy or the scope meets it (then another policy of the app refused).</summary>
    public static QlaudError? Forbidden(string? policy, KeyScope scope) => policy switch
    {
        QlaudAuthorizationPolicies.AccountAdmin when scope < KeyScope.Admin => NeedsAdmin,
        QlaudAuthorizationPolicies.AccountMaster when scope < KeyScope.Master => NeedsMaster,
        QlaudAuthorizationPolicies.Operator when scope < KeyScope.Operator => NeedsOperator,
        _ => null,
    };
}
