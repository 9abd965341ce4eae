using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Polly;
using Qlaud.Billing.Stripe;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Registers Stripe top-ups (called by <c>AddQlaud()</c>): the option validator, the Stripe client and its <see cref="HttpClient"/> with the standard resilience handler,
/// the top-up service and the webhook processor.</summary>
/// <remarks>The wallet they credit, <see cref="Billing.IWalletLedger"/>, is registered by the metering storage; without it the
/// Stripe endpoints answer 501.</remarks>
internal static class StripeServiceRegistration
{
    public static void AddStripeTopUps(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QlaudOptions>, StripeOptionsValidator>());
        services.TryAddSingleton<StripeCheckoutClient>();
        services.TryAddSingleton<StripeTopUps>();
        services.TryAddSingleton<StripeWebhookProcessor>();
        var http = services.AddHttpClient(StripeCheckoutClient.HttpClientName, static client =>
            {
                // The resilience handler's timeouts govern (10 s an attempt, 30 s in all).
                client.Timeout = Timeout.InfiniteTimeSpan;
            })
            .RemoveAllLoggers(); // the Authorization header carries the secret key; Qlaud logs what it needs itself
        http.AddStandardResilienceHandler(static resilience =>
        {
            // Stripe's own libraries retry twice with a short backoff; the same request message is sent again, so a retried POST
            // repeats its Idempotency-Key and Stripe answers it with the first result.
            resilience.Retry.MaxRetryAttempts = 2;
            resilience.Retry.Delay = TimeSpan.FromMilliseconds(250);
            resilience.Retry.BackoffType = Polly.DelayBackoffType.Exponential;
            resilience.Retry.UseJitter = true;
            resilience.Retry.ShouldHandle = static args => ValueTask.FromResult(
                StripeRetry.ShouldRetry(args.Context.GetRequestMessage(), args.Outcome.Result, args.Outcome.Exception));
            resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(10);
            resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30);
        });
    }
}
