using System.Net;
using System.Text.Json;
using Qlaud.Billing;
using Qlaud.FakeStripe;
using static Qlaud.AspNetCore.Tests.Billing.StripeGateway;

namespace Qlaud.AspNetCore.Tests.Billing;

public sealed class StripeWebhookEndpointsTests : IAsyncLifetime
{
    private StripeGateway _g = null!;

    public async Task InitializeAsync() => _g = await StripeGateway.StartAsync();

    public async Task DisposeAsync() => await _g.DisposeAsync();

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    private async Task<(string SessionId, string Completed)> PaidTopUpAsync(decimal usd = 20m)
    {
        var id = await _g.CreateTopUpAsync(usd);
        return (id, FakeStripeWebhook.Event("checkout.session.completed", _g.Stripe.CompleteSession(id)));
    }

    [Fact]
    public async Task Webhook_TopUpPaid_CreditsTheWalletWithoutAQlaudKey()
    {
        var (sessionId, completed) = await PaidTopUpAsync(20m);

        using var response = await _g.PostWebhookAsync(completed);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await JsonAsync(response);
        Assert.True(json.GetProperty("received").GetBoolean());
        Assert.Equal("applied", json.GetProperty("outcome").GetString());
        Assert.Equal(20 * Dollar, _g.Balance);
        var entry = Assert.Single(_g.Ledger.Entries);
        Assert.Equal(sessionId, entry.CheckoutSessionId);
        Assert.Equal(json.GetProperty("event_id").GetString(), entry.EventId);
    }

    [Fact]
    public async Task Webhook_DuplicateDelivery_CreditsOnce()
    {
        var (_, completed) = await PaidTopUpAsync();

        using var first = await _g.PostWebhookAsync(completed);
        using var second = await _g.PostWebhookAsync(completed); // a retry is signed afresh, same body

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("duplicate", (await JsonAsync(second)).GetProperty("outcome").GetString());
        Assert.Equal(20 * Dollar, _g.Balance);
    }

    [Fact]
    public async Task Webhook_TwentyConcurrentDeliveriesOfOneEvent_CreditOnce()
    {
        var (_, completed) = await PaidTopUpAsync();
        int arrived = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _g.Ledger.BeforeApply = async _ =>
        {
            if (Interlocked.Increment(ref arrived) == 20)
            {
                all.SetResult();
            }

            await all.Task.WaitAsync(TimeSpan.FromSeconds(15)); // every delivery is inside the ledger before any is applied
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => _g.PostWebhookAsync(completed)));

        Assert.All(responses, static r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var outcomes = await Task.WhenAll(responses.Select(async r => (await JsonAsync(r)).GetProperty("outcome").GetString()));
        Assert.Single(outcomes, static o => o == "applied");
        Assert.Equal(19, outcomes.Count(static o => o == "duplicate"));
        Assert.Equal(20 * Dollar, _g.Balance);
        Assert.Single(_g.Ledger.Entries);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Webhook_WrongSecret_400AndNothingChanges()
    {
        var (_, completed) = await PaidTopUpAsync();

        using var response = await _g.PostWebhookAsync(completed, FakeStripeWebhook.Sign(completed, "whsec_not_ours"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_signature", (await JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, _g.Ledger.ApplyCalls);
        Assert.Equal(0, _g.Balance);
    }

    [Fact]
    public async Task Webhook_TamperedBody_400AndNothingChanges()
    {
        var (_, completed) = await PaidTopUpAsync();
        var signature = FakeStripeWebhook.Sign(completed, WebhookSecret);

        using var response = await _g.PostWebhookAsync(completed.Replace("\"amount_total\": 2000", "\"amount_total\": 200000", StringComparison.Ordinal), signature);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, _g.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task Webhook_MissingSignatureHeader_400()
    {
        var (_, completed) = await PaidTopUpAsync();

        using var response = await _g.PostWebhookAsync(completed, sign: false);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Missing Stripe-Signature header.", (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, _g.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task Webhook_SignedTenMinutesAgo_400()
    {
        var (_, completed) = await PaidTopUpAsync();

        using var response = await _g.PostWebhookAsync(completed, FakeStripeWebhook.Sign(completed, WebhookSecret, DateTimeOffset.UtcNow.AddMinutes(-10)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, _g.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task Webhook_MalformedSignatureHeader_400()
    {
        var (_, completed) = await PaidTopUpAsync();

        using var response = await _g.PostWebhookAsync(completed, "v1=deadbeef");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Webhook_ChargeRefundedPartlyTwice_DebitsEachNewPart()
    {
        var (sessionId, completed) = await PaidTopUpAsync(20m);
        (await _g.PostWebhookAsync(completed)).Dispose();
        var firstRefund = FakeStripeWebhook.Event("charge.refunded", _g.Stripe.Refund(sessionId, 500));
        var secondRefund = FakeStripeWebhook.Event("charge.refunded", _g.Stripe.Refund(sessionId, 700));

        using var first = await _g.PostWebhookAsync(firstRefund);
        using var second = await _g.PostWebhookAsync(secondRefund);
        using var again = await _g.PostWebhookAsync(firstRefund);

        Assert.Equal("applied", (await JsonAsync(first)).GetProperty("outcome").GetString());
        Assert.Equal("applied", (await JsonAsync(second)).GetProperty("outcome").GetString());
        Assert.Equal("duplicate", (await JsonAsync(again)).GetProperty("outcome").GetString());
        Assert.Equal(8 * Dollar, _g.Balance); // 20 − 5 − 7
        Assert.Equal([-5 * Dollar, -7 * Dollar], _g.Ledger.Entries.Where(static e => e.Kind == ExternalLedgerEntryKind.RefundDebit).Select(static e => e.AmountMicros));
    }

    [Fact]
    public async Task Webhook_UnknownAccount_200RecordedWithoutCredit()
    {
        var session = _g.Stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "2000",
            ["client_reference_id"] = "acct_deleted",
            ["metadata[account_id]"] = "acct_deleted",
        });
        var completed = FakeStripeWebhook.Event("checkout.session.completed", _g.Stripe.CompleteSession(session.Id));

        using var response = await _g.PostWebhookAsync(completed);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("unknown_account", (await JsonAsync(response)).GetProperty("outcome").GetString());
        Assert.Equal("acct_deleted", Assert.Single(_g.Ledger.Unmatched).AccountId);
        Assert.Empty(_g.Ledger.Entries);
        Assert.Equal(0, _g.Balance);
    }

    [Fact]
    public async Task Webhook_UnhandledEventType_200Ignored()
    {
        var payload = FakeStripeWebhook.Event("payment_intent.created", """{"id":"pi_test_1","object":"payment_intent"}""");

        using var response = await _g.PostWebhookAsync(payload);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ignored", (await JsonAsync(response)).GetProperty("outcome").GetString());
        Assert.Equal(0, _g.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task Webhook_SignedButNotAnEvent_400()
    {
        using var response = await _g.PostWebhookAsync("""{"hello":"world"}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_payload", (await JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Webhook_BodyOverOneMebibyte_400()
    {
        var payload = FakeStripeWebhook.Event("customer.created", $$"""{"id":"cus_1","description":"{{new string('x', 1024 * 1024)}}"}""");

        using var response = await _g.PostWebhookAsync(payload);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("request_too_large", (await JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Webhook_NotConfigured_501NamingTheKey()
    {
        await using var g = await StripeGateway.StartAsync(new Dictionary<string, string?> { ["Qlaud:Stripe:SecretKey"] = null, ["Qlaud:Stripe:WebhookSecret"] = null });

        using var response = await g.PostWebhookAsync("{}", "t=1,v1=00");

        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        Assert.Contains("Qlaud:Stripe:WebhookSecret", (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
