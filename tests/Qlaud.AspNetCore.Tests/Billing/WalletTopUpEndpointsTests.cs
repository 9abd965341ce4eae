using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Billing.Stripe;
using Qlaud.FakeStripe;
using Qlaud.Security;

namespace Qlaud.AspNetCore.Tests.Billing;

public sealed class WalletTopUpEndpointsTests : IAsyncLifetime
{
    private static readonly object GoodBody = new { amount_usd = 20, success_url = "https://app.invalid/paid?session={CHECKOUT_SESSION_ID}", cancel_url = "https://app.invalid/cancelled" };
    private StripeGateway _g = null!;

    public async Task InitializeAsync() => _g = await StripeGateway.StartAsync();

    public async Task DisposeAsync() => await _g.DisposeAsync();

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    private static async Task<(string Message, string? Code)> ErrorAsync(HttpResponseMessage response)
    {
        var error = (await JsonAsync(response)).GetProperty("error");
        return (error.GetProperty("message").GetString()!, error.TryGetProperty("code", out var code) ? code.GetString() : null);
    }

    [Fact]
    public async Task TopUp_ValidAmount_CreatesCheckoutSessionAtStripeAndReturnsIdAndUrl()
    {
        using var response = await _g.TopUpAsync(GoodBody);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await JsonAsync(response);
        var request = Assert.Single(_g.Stripe.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/checkout/sessions", request.Path);
        Assert.Equal("Bearer " + StripeGateway.SecretKey, request.GetHeader("Authorization"));
        Assert.StartsWith("qlaud-topup-", request.IdempotencyKey, StringComparison.Ordinal);
        Assert.Equal("payment", request.Form["mode"]);
        Assert.Equal("usd", request.Form["line_items[0][price_data][currency]"]);
        Assert.Equal("2000", request.Form["line_items[0][price_data][unit_amount]"]);
        Assert.Equal("Qlaud credits", request.Form["line_items[0][price_data][product_data][name]"]);
        Assert.Equal("1", request.Form["line_items[0][quantity]"]);
        Assert.Equal("https://app.invalid/paid?session={CHECKOUT_SESSION_ID}", request.Form["success_url"]);
        Assert.Equal("https://app.invalid/cancelled", request.Form["cancel_url"]);
        Assert.Equal(StripeGateway.AccountId, request.Form["client_reference_id"]);
        Assert.Equal(StripeGateway.AccountId, request.Form["metadata[account_id]"]);
        Assert.Equal("20.00", request.Form["metadata[qlaud_topup_usd]"]);
        Assert.Equal(StripeGateway.AccountId, request.Form["payment_intent_data[metadata][account_id]"]);

        var session = Assert.Single(_g.Stripe.Sessions);
        Assert.Equal(session.Id, json.GetProperty("id").GetString());
        Assert.Equal($"{_g.Stripe.BaseUri}c/pay/{session.Id}", json.GetProperty("url").GetString());
        Assert.Equal(20m, json.GetProperty("amount_usd").GetDecimal());
        Assert.Equal("usd", json.GetProperty("currency").GetString());
        Assert.Equal("open", json.GetProperty("status").GetString());
        Assert.Equal(StripeGateway.AccountId, json.GetProperty("account_id").GetString());
        Assert.Equal(0, _g.Balance); // creating a session credits nothing
    }

    [Fact]
    public async Task TopUp_SameIdempotencyKeyHeaderTwice_OneSessionAndSameAnswer()
    {
        using var first = await _g.TopUpAsync(GoodBody, idempotencyKey: "order-17");
        using var second = await _g.TopUpAsync(GoodBody, idempotencyKey: "order-17");

        Assert.Equal((await JsonAsync(first)).GetProperty("id").GetString(), (await JsonAsync(second)).GetProperty("id").GetString());
        Assert.Single(_g.Stripe.Sessions);
        Assert.Equal(_g.Stripe.Requests[0].IdempotencyKey, _g.Stripe.Requests[1].IdempotencyKey);
    }

    [Fact]
    public async Task TopUp_SameIdempotencyKeyOtherAmount_400KeyReused()
    {
        using var first = await _g.TopUpAsync(GoodBody, idempotencyKey: "order-18");
        using var second = await _g.TopUpAsync(new { amount_usd = 100, success_url = "https://app.invalid/paid", cancel_url = "https://app.invalid/c" }, idempotencyKey: "order-18");

        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.Equal("idempotency_key_reused", (await ErrorAsync(second)).Code);
    }

    [Fact]
    public async Task TopUp_NoIdempotencyKeyHeader_EachTopUpIsNew()
    {
        using var first = await _g.TopUpAsync(GoodBody);
        using var second = await _g.TopUpAsync(GoodBody);

        Assert.Equal(2, _g.Stripe.Sessions.Count);
        Assert.NotEqual(_g.Stripe.Requests[0].IdempotencyKey, _g.Stripe.Requests[1].IdempotencyKey);
    }

    [Theory]
    [InlineData("""{"amount_usd":1,"success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    [InlineData("""{"amount_usd":4.99,"success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    [InlineData("""{"amount_usd":5000,"success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    [InlineData("""{"amount_usd":10.001,"success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    [InlineData("""{"amount_usd":-20,"success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    [InlineData("""{"amount_usd":"20","success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    [InlineData("""{"success_url":"https://a.invalid/ok","cancel_url":"https://a.invalid/no"}""")]
    public async Task TopUp_BadAmount_400NamingTheLimitsAndPresets(string body)
    {
        using var http = _g.Http();
        using var response = await http.PostAsync("/v1/wallet/topup", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (message, code) = await ErrorAsync(response);
        Assert.Equal("'amount_usd' must be from $5 to $1000 in whole cents; preset amounts: $5, $20, $100.", message);
        Assert.Equal("invalid_amount", code);
        Assert.Empty(_g.Stripe.Requests);
    }

    [Theory]
    [InlineData("""{"amount_usd":20,"cancel_url":"https://a.invalid/no"}""", "'success_url' is required")]
    [InlineData("""{"amount_usd":20,"success_url":"/relative","cancel_url":"https://a.invalid/no"}""", "'success_url' is required")]
    [InlineData("""{"amount_usd":20,"success_url":"https://a.invalid/ok","cancel_url":"javascript:alert(1)"}""", "'cancel_url' is required")]
    [InlineData("""[1,2]""", "The request body must be a JSON object")]
    [InlineData("""not json""", "The request body must be a JSON object")]
    public async Task TopUp_BadBody_400(string body, string expected)
    {
        using var http = _g.Http();
        using var response = await http.PostAsync("/v1/wallet/topup", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(expected, (await ErrorAsync(response)).Message, StringComparison.Ordinal);
        Assert.Empty(_g.Stripe.Requests);
    }

    [Fact]
    public async Task TopUp_ConfiguredLimitsAndPresets_UsedInTheMessage()
    {
        await using var g = await StripeGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Qlaud:Stripe:MinTopUpUsd"] = "10",
            ["Qlaud:Stripe:MaxTopUpUsd"] = "250.50",
            ["Qlaud:Stripe:PresetAmountsUsd:0"] = "10",
            ["Qlaud:Stripe:PresetAmountsUsd:1"] = "50",
        });

        using var response = await g.TopUpAsync(new { amount_usd = 5, success_url = "https://a.invalid/ok", cancel_url = "https://a.invalid/no" });

        Assert.Equal("'amount_usd' must be from $10 to $250.50 in whole cents; preset amounts: $10, $50.", (await ErrorAsync(response)).Message);
    }

    [Fact]
    public async Task TopUp_StripeCardError_502WithStripesMessage()
    {
        _g.Stripe.EnqueueError(new FakeStripeError(400, "invalid_request_error", "Amount must convert to at least 50 cents.", "amount_too_small", "line_items[0][price_data][unit_amount]"));

        using var response = await _g.TopUpAsync(GoodBody);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var (message, code) = await ErrorAsync(response);
        Assert.Equal("Stripe refused the request (invalid_request_error, amount_too_small): Amount must convert to at least 50 cents.", message);
        Assert.Equal("stripe_error", code);
    }

    [Fact]
    public async Task TopUp_StripeRefusesSuccessUrl_400()
    {
        _g.Stripe.EnqueueError(new FakeStripeError(400, "invalid_request_error", "Not a valid URL", "url_invalid", "success_url"));

        using var response = await _g.TopUpAsync(GoodBody);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Stripe refused 'success_url': Not a valid URL", (await ErrorAsync(response)).Message);
    }

    [Fact]
    public async Task TopUp_StripeRejectsTheSecretKey_502NamingTheSetting()
    {
        _g.Stripe.ExpectedSecretKey = "sk_test_another_key_000000";

        using var response = await _g.TopUpAsync(GoodBody);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var (message, code) = await ErrorAsync(response);
        Assert.StartsWith("Stripe refused Qlaud:Stripe:SecretKey", message, StringComparison.Ordinal);
        Assert.DoesNotContain(StripeGateway.SecretKey, message, StringComparison.Ordinal);
        Assert.Equal("stripe_authentication_failed", code);
    }

    [Fact]
    public async Task TopUp_StripeNotConfigured_501SayingWhatToSet()
    {
        await using var g = await StripeGateway.StartAsync(new Dictionary<string, string?> { ["Qlaud:Stripe:SecretKey"] = null, ["Qlaud:Stripe:WebhookSecret"] = null });

        using var response = await g.TopUpAsync(GoodBody);

        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        var (message, code) = await ErrorAsync(response);
        Assert.Contains("Qlaud:Stripe:SecretKey", message, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Stripe:WebhookSecret", message, StringComparison.Ordinal);
        Assert.Equal("stripe_not_configured", code);
        Assert.Empty(g.Stripe.Requests);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("qlk_live_NotTheMasterKey00000000000000000000000")]
    public async Task TopUp_MissingOrUnknownKey_401(string? key)
    {
        using var response = await _g.TopUpAsync(GoodBody, key: key);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_g.Stripe.Requests);
    }

    [Theory]
    [InlineData("standard")]
    [InlineData("admin")]
    public async Task TopUp_NonMasterKey_403(string scope)
    {
        var (_, secret) = await _g.Gateway.MintKeyAsync($$"""{"scope":"{{scope}}","end_user_id":"user_1"}""");

        using var response = await _g.TopUpAsync(GoodBody, key: secret);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("master key", (await ErrorAsync(response)).Message, StringComparison.Ordinal);
        Assert.Empty(_g.Stripe.Requests);
    }

    [Fact]
    public async Task TopUpOptions_Configured_ListsLimitsAndPresets()
    {
        using var http = _g.Http();
        using var response = await http.GetAsync("/v1/wallet/topup/options");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await JsonAsync(response);
        Assert.Equal("usd", json.GetProperty("currency").GetString());
        Assert.Equal(5m, json.GetProperty("min_amount_usd").GetDecimal());
        Assert.Equal(1000m, json.GetProperty("max_amount_usd").GetDecimal());
        Assert.Equal([5m, 20m, 100m], json.GetProperty("preset_amounts_usd").EnumerateArray().Select(static e => e.GetDecimal()));
    }

    [Fact]
    public async Task TopUpOptions_NotConfigured_501()
    {
        await using var g = await StripeGateway.StartAsync(new Dictionary<string, string?> { ["Qlaud:Stripe:SecretKey"] = null, ["Qlaud:Stripe:WebhookSecret"] = null });
        using var http = g.Http();

        using var response = await http.GetAsync("/v1/wallet/topup/options");

        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
    }

    [Fact]
    public async Task GetTopUp_AfterPayment_ShowsCompleteAndPaid()
    {
        var id = await _g.CreateTopUpAsync(20m);
        _g.Stripe.CompleteSession(id);
        using var http = _g.Http();

        using var response = await http.GetAsync("/v1/wallet/topup/" + id);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await JsonAsync(response);
        Assert.Equal(id, json.GetProperty("id").GetString());
        Assert.Equal("complete", json.GetProperty("status").GetString());
        Assert.Equal("paid", json.GetProperty("payment_status").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("url").ValueKind);
        Assert.Equal("GET", _g.Stripe.Requests[^1].Method);
    }

    [Fact]
    public async Task GetTopUp_UnknownOrOtherAccounts_404()
    {
        var foreign = _g.Stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "500",
            ["metadata[account_id]"] = "acct_someone_else",
        });
        using var http = _g.Http();

        using var unknown = await http.GetAsync("/v1/wallet/topup/cs_test_nope");
        using var other = await http.GetAsync("/v1/wallet/topup/" + foreign.Id);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }
}
