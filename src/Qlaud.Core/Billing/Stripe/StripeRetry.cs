using System.Net;
using Polly.Timeout;

namespace Qlaud.Billing.Stripe;

/// <summary>When the Stripe <see cref="HttpClient"/>'s resilience handler retries: as Stripe's own libraries do.</summary>
internal static class StripeRetry
{
    /// <summary>Whether an attempt's outcome is worth another try.</summary>
    /// <param name="request">The request; a POST without an <c>Idempotency-Key</c> is never retried (it could act twice).</param>
    /// <param name="response">The answer, or null when none arrived.</param>
    /// <param name="exception">What failed when no answer arrived.</param>
    /// <remarks>No answer (connection failure, attempt timeout), 409 (lock contention), 429 and 5xx are retried, unless Stripe
    /// says <c>Stripe-Should-Retry: false</c>; <c>Stripe-Should-Retry: true</c> retries whatever the status.</remarks>
    public static bool ShouldRetry(HttpRequestMessage? request, HttpResponseMessage? response, Exception? exception)
    {
        if (request is not null && request.Method == HttpMethod.Post && !request.Headers.Contains("Idempotency-Key"))
        {
            return false;
        }

        if (response is null)
        {
            return exception is HttpRequestException or TimeoutRejectedException;
        }

        if (response.Headers.TryGetValues("Stripe-Should-Retry", out var values) && values.FirstOrDefault() is { } shouldRetry)
        {
            return string.Equals(shouldRetry, "true", StringComparison.OrdinalIgnoreCase);
        }

        return response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
    }
}
