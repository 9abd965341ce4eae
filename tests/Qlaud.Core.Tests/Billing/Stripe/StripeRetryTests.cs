using System.Net;
using Polly.Timeout;
using Qlaud.Billing.Stripe;

namespace Qlaud.Core.Tests.Billing.Stripe;

public sealed class StripeRetryTests
{
    private static HttpRequestMessage Post(string? idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "http://127.0.0.1/v1/checkout/sessions");
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }

        return request;
    }

    private static HttpResponseMessage Answer(HttpStatusCode status, string? shouldRetry = null)
    {
        var response = new HttpResponseMessage(status);
        if (shouldRetry is not null)
        {
            response.Headers.TryAddWithoutValidation("Stripe-Should-Retry", shouldRetry);
        }

        return response;
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.Conflict)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    public void ShouldRetry_TransientStatusWithIdempotencyKey_True(HttpStatusCode status)
    {
        using var request = Post("idem");
        using var response = Answer(status);

        Assert.True(StripeRetry.ShouldRetry(request, response, null));
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.Conflict)]
    public void ShouldRetry_PostWithoutIdempotencyKey_False(HttpStatusCode status)
    {
        using var request = Post(null);
        using var response = Answer(status);

        Assert.False(StripeRetry.ShouldRetry(request, response, null));
        Assert.False(StripeRetry.ShouldRetry(request, null, new HttpRequestException("refused")));
    }

    [Fact]
    public void ShouldRetry_GetWithoutIdempotencyKey_RetriedOnTransientFailure()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/v1/checkout/sessions/cs_1");

        Assert.True(StripeRetry.ShouldRetry(request, null, new HttpRequestException("refused")));
        Assert.True(StripeRetry.ShouldRetry(request, null, new TimeoutRejectedException()));
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, null, false)]
    [InlineData(HttpStatusCode.PaymentRequired, null, false)]
    [InlineData(HttpStatusCode.NotFound, null, false)]
    [InlineData(HttpStatusCode.InternalServerError, "false", false)]
    [InlineData(HttpStatusCode.BadRequest, "true", true)]
    public void ShouldRetry_StatusAndStripeShouldRetry_AsStripeLibraries(HttpStatusCode status, string? shouldRetry, bool expected)
    {
        using var request = Post("idem");
        using var response = Answer(status, shouldRetry);

        Assert.Equal(expected, StripeRetry.ShouldRetry(request, response, null));
    }
}
