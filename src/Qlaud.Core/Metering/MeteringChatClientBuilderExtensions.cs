using Microsoft.Extensions.DependencyInjection;
using Qlaud.Metering;

namespace Microsoft.Extensions.AI;

/// <summary>Adds Qlaud's spend metering to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class MeteringChatClientBuilderExtensions
{
    /// <summary>
    /// Meters each call against the caller's key and wallet: the caller is resolved from
    /// <see cref="ChatOptions.AdditionalProperties"/> (<c>qlaud.api_key</c>, <c>qlaud.end_user</c>) or <c>QlaudCallScope</c>,
    /// the worst case of the call's routes is reserved before the inner client runs (over a cap: a
    /// <c>QlaudException</c> with <c>PaymentRequired</c>, no upstream call), and the reported usage is settled into the ledger.
    /// </summary>
    /// <param name="builder">The pipeline; its services must come from an app that called <c>AddQlaud()</c>.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <remarks>This is the decorator <c>AddQlaud()</c> puts around its own <see cref="IChatClient"/> when
    /// <c>Qlaud:Metering:Enabled</c> is true. Put it directly around the Qlaud gateway client
    /// (<c>QlaudServiceCollectionExtensions.GatewayChatClientKey</c>) so it sees the route that answered.</remarks>
    public static ChatClientBuilder UseQlaudMetering(this ChatClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use(static (inner, services) => new MeteringChatClient(inner,
            services.GetRequiredService<ISpendGuard>(),
            services.GetRequiredService<QlaudCallerResolver>(),
            services.GetRequiredService<Qlaud.Routing.Router>()));
    }
}
