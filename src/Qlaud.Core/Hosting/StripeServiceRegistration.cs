using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Qlaud.Billing.Stripe;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Registers Stripe top-ups (called by <c>AddQlaud()</c>): the option validator, the Stripe client and its <see cref="HttpClient"/>,
/// the top-up service and the webhook processor.</summary>
/// <remarks>The wallet they credit, <see cref="Billing.IWalletLedger"/>, is registered by the metering storage; without it the
/// Stripe endpoints answer 501.</remarks>
internal static class StripeServiceRegistration
{
    public static void AddStripeTopUps(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QlaudOptions>, StripeOptionsValidator>());
        services.TryAddSingleton<StripeClient>();
        services.TryAddSingleton<StripeTopUps>();
        services.TryAddSingleton<StripeWebhookProcessor>();
        services.AddHttpClient(StripeClient.HttpClientName, static client =>
            {
                client.Timeout = TimeSpan.FromSeconds(30);
                client.DefaultRequestHeaders.UserAgent.ParseAdd("Qlaud");
            })
            .RemoveAllLoggers(); // the Authorization header carries the secret key; Qlaud logs what it needs itself
    }
}
