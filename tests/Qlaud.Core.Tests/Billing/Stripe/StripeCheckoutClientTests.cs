using System.Net;
using Qlaud.Billing.Stripe;
using Qlaud.FakeStripe;

namespace Qlaud.Core.Tests.Billing.Stripe;

public sealed class StripeCheckoutClientTests : IAsyncLifetime
{
    private StripeHarness _h = null!;

    public async Task InitializeAsync() => _h = await StripeHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static StripeCheckoutSessionCreate Request(long cents = 2000) =>
        new("acct_42", cents, "usd", "Qlaud credits", "https://app.invalid/ok?session_id={CHECKOUT_SESSION_ID}", "https://app.invalid/cancel");

    [Fact]
    public async Task CreateCheckoutSessionAsync_Valid_PostsStripeFormWithKeyAndIdempotencyKey()
    {
        var session = await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-1", CancellationToken.None);

        var request = Assert.Single(_h.Stripe.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/checkout/sessions", request.Path);
        Assert.Equal("Bearer " + StripeHarness.SecretKey, request.GetHeader("Authorization"));
        Assert.Equal("idem-1", request.IdempotencyKey);
        Assert.StartsWith("application/x-www-form-urlencoded", request.GetHeader("Content-Type"), StringComparison.Ordinal);
        var expected = new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "2000",
            ["line_items[0][price_data][product_data][name]"] = "Qlaud credits",
            ["line_items[0][quantity]"] = "1",
            ["success_url"] = "https://app.invalid/ok?session_id={CHECKOUT_SESSION_ID}",
            ["cancel_url"] = "https://app.invalid/cancel",
            ["client_reference_id"] = "acct_42",
            ["metadata[account_id]"] = "acct_42",
            ["metadata[qlaud_topup_usd]"] = "20.00",
            ["payment_intent_data[metadata][account_id]"] = "acct_42",
            ["payment_intent_data[metadata][qlaud_topup_usd]"] = "20.00",
        };
        Assert.Equal(expected.OrderBy(static p => p.Key), request.Form.OrderBy(static p => p.Key));

        Assert.StartsWith("cs_test_", session.Id, StringComparison.Ordinal);
        Assert.Equal($"{_h.Stripe.BaseUri}c/pay/{session.Id}", session.Url);
        Assert.Equal("open", session.Status);
        Assert.Equal("unpaid", session.PaymentStatus);
        Assert.Equal(2000, session.AmountTotal);
        Assert.Equal("acct_42", session.ClientReferenceId);
        Assert.Equal("acct_42", session.Metadata!["account_id"]);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_SameIdempotencyKey_SameSession()
    {
        var first = await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-same", CancellationToken.None);
        var second = await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-same", CancellationToken.None);

        Assert.Equal(first.Id, second.Id);
        Assert.Single(_h.Stripe.Sessions);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_IdempotencyKeyReusedWithOtherAmount_IdempotencyError()
    {
        await _h.Client.CreateCheckoutSessionAsync(Request(2000), "idem-reused", CancellationToken.None);

        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.CreateCheckoutSessionAsync(Request(5000), "idem-reused", CancellationToken.None));

        Assert.Equal("idempotency_error", ex.Type);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_StripeInvalidRequestError_MappedWithTypeCodeParamAndRequestId()
    {
        _h.Stripe.EnqueueError(new FakeStripeError(400, "invalid_request_error", "Not a valid URL", "url_invalid", "success_url"));

        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.CreateCheckoutSessionAsync(Request(), "idem-err", CancellationToken.None));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal("invalid_request_error", ex.Type);
        Assert.Equal("url_invalid", ex.Code);
        Assert.Equal("success_url", ex.Param);
        Assert.Equal("Not a valid URL", ex.Message);
        Assert.StartsWith("req_", ex.RequestId, StringComparison.Ordinal);
        Assert.Single(_h.Stripe.Requests); // a 400 is not retried
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_CardError402_Mapped()
    {
        _h.Stripe.EnqueueError(new FakeStripeError(402, "card_error", "Your card was declined.", "card_declined"));

        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.CreateCheckoutSessionAsync(Request(), "idem-card", CancellationToken.None));

        Assert.Equal(HttpStatusCode.PaymentRequired, ex.StatusCode);
        Assert.Equal("card_error", ex.Type);
        Assert.Equal("card_declined", ex.Code);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_WrongSecretKey_401Mapped()
    {
        _h.Stripe.ExpectedSecretKey = "sk_test_some_other_key_0000";

        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.CreateCheckoutSessionAsync(Request(), "idem-auth", CancellationToken.None));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Contains("Invalid API Key", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(StripeHarness.SecretKey, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_ServerErrorOnce_RetriedWithSameIdempotencyKey()
    {
        _h.Stripe.EnqueueError(FakeStripeError.ServerError);

        var session = await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-retry", CancellationToken.None);

        Assert.NotNull(session.Id);
        var requests = _h.Stripe.Requests;
        Assert.Equal(2, requests.Count);
        Assert.All(requests, static r => Assert.Equal("idem-retry", r.IdempotencyKey));
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_ConflictTwice_RetriedWithSameIdempotencyKey()
    {
        _h.Stripe.EnqueueError(new FakeStripeError(409, "api_error", "Lock timeout.", "lock_timeout"));
        _h.Stripe.EnqueueError(new FakeStripeError(429, "invalid_request_error", "Too many requests.", "rate_limit"));

        var session = await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-409", CancellationToken.None);

        Assert.Single(_h.Stripe.Sessions);
        Assert.Equal(session.Id, _h.Stripe.Sessions.Single().Id);
        var requests = _h.Stripe.Requests;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, static r => Assert.Equal("idem-409", r.IdempotencyKey));
        Assert.All(requests, r => Assert.Equal(requests[0].Body, r.Body));
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_Valid_SendsStripeNetPinnedApiVersion()
    {
        await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-version", CancellationToken.None);

        // Stripe.net 53.1.0 is pinned to this API version.
        Assert.Equal("2026-10-28.endive", Assert.Single(_h.Stripe.Requests).GetHeader("Stripe-Version"));
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_ServerErrorWithShouldRetryFalse_NotRetried()
    {
        _h.Stripe.EnqueueError(FakeStripeError.ServerError with { ShouldRetry = false });

        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.CreateCheckoutSessionAsync(Request(), "idem-noretry", CancellationToken.None));

        Assert.Equal("api_error", ex.Type);
        Assert.Single(_h.Stripe.Requests);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_ServerErrorEveryTime_ThrowsAfterTwoRetries()
    {
        for (int i = 0; i < 3; i++)
        {
            _h.Stripe.EnqueueError(FakeStripeError.ServerError);
        }

        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.CreateCheckoutSessionAsync(Request(), "idem-500", CancellationToken.None));

        Assert.Equal(HttpStatusCode.InternalServerError, ex.StatusCode);
        Assert.Equal(3, _h.Stripe.Requests.Count);
    }

    [Fact]
    public async Task CreateCheckoutSessionAsync_StripeUnreachable_ConnectionError()
    {
        await using var h = await StripeHarness.StartAsync(new Dictionary<string, string?> { ["Qlaud:Stripe:ApiBaseUrl"] = "http://127.0.0.1:1" });

        var ex = await Assert.ThrowsAsync<StripeException>(() => h.Client.CreateCheckoutSessionAsync(Request(), "idem-down", CancellationToken.None));

        Assert.True(ex.IsConnectionError);
        Assert.Equal("api_connection_error", ex.Type);
    }

    [Fact]
    public async Task GetCheckoutSessionAsync_Existing_ReturnsCurrentState()
    {
        var created = await _h.Client.CreateCheckoutSessionAsync(Request(), "idem-get", CancellationToken.None);
        _h.Stripe.CompleteSession(created.Id!);

        var session = await _h.Client.GetCheckoutSessionAsync(created.Id!, CancellationToken.None);

        var request = _h.Stripe.Requests[^1];
        Assert.Equal("GET", request.Method);
        Assert.Equal("/v1/checkout/sessions/" + created.Id, request.Path);
        Assert.Null(request.IdempotencyKey);
        Assert.Equal("complete", session.Status);
        Assert.Equal("paid", session.PaymentStatus);
        Assert.StartsWith("pi_test_", session.PaymentIntentId, StringComparison.Ordinal);
        Assert.Null(session.Url);
    }

    [Fact]
    public async Task GetCheckoutSessionAsync_Unknown_ResourceMissing()
    {
        var ex = await Assert.ThrowsAsync<StripeException>(() => _h.Client.GetCheckoutSessionAsync("cs_test_nope", CancellationToken.None));

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal("resource_missing", ex.Code);
    }
}
