using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Qlaud.Configuration;
using StripeApi = Stripe;
using StripeCheckout = Stripe.Checkout;

namespace Qlaud.Billing.Stripe;

/// <summary>The Stripe API calls Qlaud makes, through Stripe.net: create and retrieve a Checkout Session.</summary>
/// <remarks>
/// <para>Stripe.net's <see cref="StripeCheckout.SessionService"/> sends the requests over the named <see cref="HttpClient"/>
/// <see cref="HttpClientName"/> from <see cref="IHttpClientFactory"/>, whose standard resilience handler retries (see
/// <see cref="StripeRetry"/>); Stripe.net's own retries are off, so a request is never retried twice over. Creation carries an
/// <c>Idempotency-Key</c>, which every retry repeats, so a retried creation returns the first session instead of a second.
/// The secret key goes in <c>Authorization: Bearer</c> and is never logged. Requests name Stripe.net's pinned API version in
/// <c>Stripe-Version</c>.</para>
/// <para>Failures become a <see cref="StripeException"/>: Stripe's error body (type, code, param, message, request id), or
/// <c>api_connection_error</c> when no answer arrived (refused connection, timeout, open circuit).</para>
/// </remarks>
internal sealed class StripeCheckoutClient(IHttpClientFactory httpClientFactory, IOptions<QlaudOptions> options)
{
    /// <summary>The named <see cref="HttpClient"/> for Stripe.</summary>
    public const string HttpClientName = "Qlaud.Stripe";

    private static readonly StripeApi.AppInfo App = new() { Name = "Qlaud" };

    /// <summary><c>POST /v1/checkout/sessions</c>.</summary>
    /// <param name="request">The session to create.</param>
    /// <param name="idempotencyKey">Sent as <c>Idempotency-Key</c>: the same key with the same parameters returns the same session.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="StripeException">Stripe refused the request or could not be reached.</exception>
    public Task<StripeCheckout.Session> CreateCheckoutSessionAsync(StripeCheckoutSessionCreate request, string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        var requestOptions = new StripeApi.RequestOptions { IdempotencyKey = idempotencyKey };
        return CallAsync(
            (Options: request.ToOptions(), RequestOptions: requestOptions),
            static (service, state, ct) => service.CreateAsync(state.Options, state.RequestOptions, ct),
            cancellationToken);
    }

    /// <summary><c>GET /v1/checkout/sessions/{id}</c>.</summary>
    /// <param name="sessionId">The session id (<c>cs_…</c>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="StripeException">Stripe refused the request (<c>resource_missing</c> for an unknown id) or could not be reached.</exception>
    public Task<StripeCheckout.Session> GetCheckoutSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        return CallAsync(sessionId, static (service, id, ct) => service.GetAsync(id, null, null, ct), cancellationToken);
    }

    private async Task<StripeCheckout.Session> CallAsync<TState>(
        TState state, Func<StripeCheckout.SessionService, TState, CancellationToken, Task<StripeCheckout.Session>> call, CancellationToken cancellationToken)
    {
        var stripe = options.Value.Stripe;
        if (string.IsNullOrWhiteSpace(stripe.SecretKey))
        {
            throw new InvalidOperationException("Qlaud:Stripe:SecretKey is not set.");
        }

        // Stripe.net's client is cheap to build; building it per call picks up reloaded options. Its retries are off: the
        // HttpClient's resilience handler retries.
        var httpClient = new StripeApi.SystemNetHttpClient(httpClientFactory.CreateClient(HttpClientName), maxNetworkRetries: 0, App, enableTelemetry: false);
        var client = new StripeApi.StripeClient(stripe.SecretKey, httpClient: httpClient, apiBase: stripe.ApiBaseUrl.TrimEnd('/'));
        try
        {
            return await call(new StripeCheckout.SessionService(client), state, cancellationToken).ConfigureAwait(false);
        }
        catch (StripeApi.StripeException ex) when (ex.HttpStatusCode != 0)
        {
            var error = ex.StripeError;
            int status = (int)ex.HttpStatusCode;
            throw new StripeException(
                ex.HttpStatusCode,
                error?.Type ?? "api_error",
                error?.Message ?? (string.IsNullOrEmpty(ex.Message) ? $"Stripe answered HTTP {status} without an error body." : ex.Message),
                error?.Code ?? error?.DeclineCode,
                error?.Param,
                ex.StripeResponse?.RequestId,
                ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutRejectedException or BrokenCircuitException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            string reason = ex switch
            {
                TimeoutRejectedException or OperationCanceledException => "timed out",
                BrokenCircuitException => "too many recent failures, calls paused",
                _ => ex.Message,
            };
            throw new StripeException(null, "api_connection_error", $"Stripe could not be reached at {stripe.ApiBaseUrl}: {reason}", inner: ex);
        }
    }
}
