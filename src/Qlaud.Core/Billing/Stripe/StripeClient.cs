using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Billing.Stripe;

/// <summary>
/// A small typed client for the Stripe API calls Qlaud makes: create and retrieve a Checkout Session.
/// </summary>
/// <remarks>
/// <para>Hand-written because Stripe.net is not on our package feed (see PACKAGES.md); it covers exactly the calls used.
/// Requests are form-encoded with Stripe's bracketed parameter names and authenticated with <c>Authorization: Bearer</c> and
/// the secret key (never logged). Creation carries an <c>Idempotency-Key</c>, so a retried request cannot create a second
/// session. Stripe's error bodies (<c>{"error":{"type","code","message","param"}}</c>) become a <see cref="StripeException"/>.</para>
/// <para>Like Stripe's own libraries, a request that got no answer, a 409, 429 or 5xx is retried twice with a short backoff
/// (the idempotency key makes retried creations safe), unless Stripe says <c>Stripe-Should-Retry: false</c>.</para>
/// <para>No <c>Stripe-Version</c> is sent: the account's default API version applies, and the fields read here
/// (<c>id</c>, <c>url</c>, <c>status</c>, <c>payment_status</c>, <c>amount_total</c>, <c>metadata</c>) are stable across versions.</para>
/// </remarks>
internal sealed partial class StripeClient(IHttpClientFactory httpClientFactory, IOptions<QlaudOptions> options, TimeProvider time, ILogger<StripeClient> logger)
{
    /// <summary>The named <see cref="HttpClient"/> for Stripe.</summary>
    public const string HttpClientName = "Qlaud.Stripe";

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(750)];

    /// <summary><c>POST /v1/checkout/sessions</c>.</summary>
    /// <param name="request">The session to create.</param>
    /// <param name="idempotencyKey">Sent as <c>Idempotency-Key</c>: the same key with the same parameters returns the same session.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="StripeException">Stripe refused the request or could not be reached.</exception>
    public Task<StripeCheckoutSession> CreateCheckoutSessionAsync(StripeCheckoutSessionCreate request, string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        return SendAsync(HttpMethod.Post, "/v1/checkout/sessions", request.ToForm(), idempotencyKey, cancellationToken);
    }

    /// <summary><c>GET /v1/checkout/sessions/{id}</c>.</summary>
    /// <param name="sessionId">The session id (<c>cs_…</c>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="StripeException">Stripe refused the request (<c>resource_missing</c> for an unknown id) or could not be reached.</exception>
    public Task<StripeCheckoutSession> GetCheckoutSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        return SendAsync(HttpMethod.Get, "/v1/checkout/sessions/" + Uri.EscapeDataString(sessionId), null, null, cancellationToken);
    }

    private async Task<StripeCheckoutSession> SendAsync(
        HttpMethod method, string path, IReadOnlyList<KeyValuePair<string, string>>? form, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var stripe = options.Value.Stripe;
        if (string.IsNullOrWhiteSpace(stripe.SecretKey))
        {
            throw new InvalidOperationException("Qlaud:Stripe:SecretKey is not set.");
        }

        var uri = new Uri(stripe.ApiBaseUrl.TrimEnd('/') + path, UriKind.Absolute);
        var client = httpClientFactory.CreateClient(HttpClientName);
        for (int attempt = 0; ; attempt++)
        {
            using var message = new HttpRequestMessage(method, uri);
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stripe.SecretKey);
            if (idempotencyKey is not null)
            {
                message.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
            }

            if (form is not null)
            {
                message.Content = new FormUrlEncodedContent(form);
            }

            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                string reason = ex is TaskCanceledException ? "timed out" : ex.Message;
                if (attempt < RetryDelays.Length)
                {
                    Log.Retrying(logger, method.Method, path, reason, RetryDelays[attempt]);
                    await Task.Delay(RetryDelays[attempt], time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                throw new StripeException(null, "api_connection_error", $"Stripe could not be reached at {stripe.ApiBaseUrl}: {reason}", inner: ex);
            }

            using (response)
            {
                var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return ReadSession(response.StatusCode, body);
                }

                if (attempt < RetryDelays.Length && ShouldRetry(response))
                {
                    Log.Retrying(logger, method.Method, path, $"HTTP {(int)response.StatusCode}", RetryDelays[attempt]);
                    await Task.Delay(RetryDelays[attempt], time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                throw ReadError(response, body);
            }
        }
    }

    private static bool ShouldRetry(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("Stripe-Should-Retry", out var values) && values.FirstOrDefault() is { } shouldRetry)
        {
            return string.Equals(shouldRetry, "true", StringComparison.OrdinalIgnoreCase);
        }

        return response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
    }

    private static StripeCheckoutSession ReadSession(HttpStatusCode status, byte[] body)
    {
        try
        {
            if (JsonSerializer.Deserialize(body, StripeJsonContext.Default.StripeCheckoutSession) is { Id: not null } session)
            {
                return session;
            }
        }
        catch (JsonException)
        {
            // Answered below.
        }

        throw new StripeException(status, "api_error", "Stripe answered with a body that is not a Checkout Session.");
    }

    /// <summary>Maps Stripe's error body to an exception; a body that is not one still gives a clear message with the status.</summary>
    internal static StripeException ReadError(HttpResponseMessage response, byte[] body)
    {
        string? requestId = response.Headers.TryGetValues("Request-Id", out var ids) ? ids.FirstOrDefault() : null;
        StripeErrorBody? error = null;
        try
        {
            error = JsonSerializer.Deserialize(body, StripeJsonContext.Default.StripeErrorEnvelope)?.Error;
        }
        catch (JsonException)
        {
            // Not Stripe's error shape (a proxy's page, for example).
        }

        int status = (int)response.StatusCode;
        return error is null
            ? new StripeException(response.StatusCode, "api_error", $"Stripe answered HTTP {status} without an error body.", requestId: requestId)
            : new StripeException(response.StatusCode, error.Type ?? "api_error", error.Message ?? $"Stripe answered HTTP {status}.", error.Code ?? error.DeclineCode, error.Param, requestId);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Stripe request {Method} {Path} failed ({Reason}); retrying in {Delay}")]
        public static partial void Retrying(ILogger logger, string method, string path, string reason, TimeSpan delay);
    }
}
