using Qlaud.Billing;
using Qlaud.Billing.Stripe;
using Qlaud.FakeStripe;

namespace Qlaud.Core.Tests.Billing.Stripe;

public sealed class StripeWebhookProcessorTests : IAsyncLifetime
{
    private const long Dollar = 1_000_000;
    private StripeHarness _h = null!;

    public async Task InitializeAsync() => _h = await StripeHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private long Balance => _h.Ledger.BalanceOf(StripeHarness.AccountId);

    private async Task<(string SessionId, string Completed)> PaidSessionAsync(decimal usd = 20m, long? amountPaid = null)
    {
        var id = await _h.CreateSessionAsync(usd);
        return (id, FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(id, amountPaid: amountPaid)));
    }

    /// <summary>Makes the first <paramref name="count"/> applies wait for each other, so they race into the ledger together.</summary>
    private void RaceFirst(int count)
    {
        int arrived = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _h.Ledger.BeforeApply = async _ =>
        {
            int n = Interlocked.Increment(ref arrived);
            if (n == count)
            {
                all.SetResult();
            }

            if (n <= count)
            {
                await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
        };
    }

    [Fact]
    public async Task ProcessAsync_CheckoutCompletedPaid_CreditsAmountTotalInMicros()
    {
        var (sessionId, completed) = await PaidSessionAsync(20m);

        var result = await _h.DeliverAsync(completed);

        Assert.Equal(StripeWebhookOutcome.Applied, result.Outcome);
        Assert.Equal(20 * Dollar, Balance);
        var entry = Assert.Single(_h.Ledger.Entries);
        Assert.Equal(ExternalLedgerEntryKind.TopUpCredit, entry.Kind);
        Assert.Equal("stripe:checkout_session:" + sessionId, entry.ExternalId);
        Assert.Equal(result.EventId, entry.EventId);
        Assert.Equal(sessionId, entry.CheckoutSessionId);
        Assert.Equal(_h.Stripe.Session(sessionId).PaymentIntentId, entry.PaymentIntentId);
        Assert.Equal(StripeHarness.AccountId, entry.AccountId);
    }

    [Fact]
    public async Task ProcessAsync_AmountPaidBelowRequested_CreditsAmountActuallyPaid()
    {
        var (_, completed) = await PaidSessionAsync(20m, amountPaid: 1_500);

        await _h.DeliverAsync(completed);

        Assert.Equal(15 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_SameEventTwice_CreditsOnce()
    {
        var (_, completed) = await PaidSessionAsync();

        var first = await _h.DeliverAsync(completed);
        var second = await _h.DeliverAsync(completed);

        Assert.Equal(StripeWebhookOutcome.Applied, first.Outcome);
        Assert.Equal(StripeWebhookOutcome.Duplicate, second.Outcome);
        Assert.Equal(20 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_TwentyConcurrentDeliveriesOfOneEvent_CreditsOnce()
    {
        var (_, completed) = await PaidSessionAsync();
        RaceFirst(20);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => _h.DeliverAsync(completed).AsTask())));

        Assert.Equal(20, _h.Ledger.ApplyCalls);
        Assert.Single(results, static r => r.Outcome == StripeWebhookOutcome.Applied);
        Assert.Equal(19, results.Count(static r => r.Outcome == StripeWebhookOutcome.Duplicate));
        Assert.Equal(20 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_CompletedUnpaidThenAsyncPaymentSucceeded_CreditsOnAsyncEvent()
    {
        var id = await _h.CreateSessionAsync(100m);
        var unpaid = FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(id, paymentStatus: "unpaid"));

        var first = await _h.DeliverAsync(unpaid);
        Assert.Equal(StripeWebhookOutcome.Ignored, first.Outcome);
        Assert.Equal(0, Balance);

        var succeeded = await _h.DeliverAsync(FakeStripeWebhook.Event("checkout.session.async_payment_succeeded", _h.Stripe.SucceedAsyncPayment(id)));

        Assert.Equal(StripeWebhookOutcome.Applied, succeeded.Outcome);
        Assert.Equal(100 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_TwoDifferentEventsForOnePaidSession_CreditsOnce()
    {
        var (sessionId, completed) = await PaidSessionAsync();
        var asyncSucceeded = FakeStripeWebhook.Event("checkout.session.async_payment_succeeded", _h.Stripe.SessionJson(sessionId));

        await _h.DeliverAsync(completed);
        var second = await _h.DeliverAsync(asyncSucceeded);

        Assert.Equal(StripeWebhookOutcome.Duplicate, second.Outcome);
        Assert.Equal(20 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_ChargeRefundedInFull_DebitsTheRefund()
    {
        var (sessionId, completed) = await PaidSessionAsync(20m);
        await _h.DeliverAsync(completed);

        var result = await _h.DeliverAsync(FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 2_000)));

        Assert.Equal(StripeWebhookOutcome.Applied, result.Outcome);
        Assert.Equal(-20 * Dollar, result.AmountMicros);
        Assert.Equal(0, Balance);
        var refund = _h.Ledger.Entries[^1];
        Assert.Equal(ExternalLedgerEntryKind.RefundDebit, refund.Kind);
        Assert.Equal(_h.Stripe.Session(sessionId).ChargeId, refund.ChargeId);
        Assert.Equal(_h.Stripe.Session(sessionId).PaymentIntentId, refund.PaymentIntentId);
        Assert.Equal(StripeHarness.AccountId, refund.AccountId);
    }

    [Fact]
    public async Task ProcessAsync_PartialRefunds_DebitOnlyEachNewPart()
    {
        var (sessionId, completed) = await PaidSessionAsync(20m);
        await _h.DeliverAsync(completed);
        var firstRefund = FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 300));   // amount_refunded 300
        var secondRefund = FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 500)); // amount_refunded 800

        var first = await _h.DeliverAsync(firstRefund);
        var second = await _h.DeliverAsync(secondRefund);
        var redelivered = await _h.DeliverAsync(firstRefund);
        var redeliveredSecond = await _h.DeliverAsync(secondRefund);

        Assert.Equal(-3 * Dollar, first.AmountMicros);
        Assert.Equal(-5 * Dollar, second.AmountMicros);
        Assert.Equal(StripeWebhookOutcome.Duplicate, redelivered.Outcome);
        Assert.Equal(StripeWebhookOutcome.Duplicate, redeliveredSecond.Outcome);
        Assert.Equal(12 * Dollar, Balance);
        Assert.Equal(8 * Dollar, await _h.Ledger.GetRefundedMicrosAsync(_h.Stripe.Session(sessionId).ChargeId!, CancellationToken.None));
    }

    [Fact]
    public async Task ProcessAsync_RefundEventsOutOfOrder_DebitTheCumulativeAmountOnce()
    {
        var (sessionId, completed) = await PaidSessionAsync(20m);
        await _h.DeliverAsync(completed);
        var older = FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 300));
        var newer = FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 500));

        var newerResult = await _h.DeliverAsync(newer);
        var olderResult = await _h.DeliverAsync(older);

        Assert.Equal(-8 * Dollar, newerResult.AmountMicros);
        Assert.Equal(StripeWebhookOutcome.Duplicate, olderResult.Outcome);
        Assert.Equal(12 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_ConcurrentRefundEventsForOneCharge_DebitTheCumulativeAmountOnce()
    {
        var (sessionId, completed) = await PaidSessionAsync(20m);
        await _h.DeliverAsync(completed);
        var older = FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 300));
        var newer = FakeStripeWebhook.Event("charge.refunded", _h.Stripe.Refund(sessionId, 500));
        RaceFirst(2); // both read "nothing debited yet", then both try to apply a step from 0

        var results = await Task.WhenAll(Task.Run(() => _h.DeliverAsync(older).AsTask()), Task.Run(() => _h.DeliverAsync(newer).AsTask()));

        Assert.Equal(12 * Dollar, Balance);
        Assert.Equal(-8 * Dollar, _h.Ledger.Entries.Where(static e => e.Kind == ExternalLedgerEntryKind.RefundDebit).Sum(static e => e.AmountMicros));
        Assert.Contains(results, static r => r.Outcome == StripeWebhookOutcome.Applied);
    }

    [Fact]
    public async Task ProcessAsync_UnknownAccount_RecordedAndNotCredited()
    {
        var id = await _h.CreateSessionAsync(20m, accountId: "acct_unknown");
        var completed = FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(id));

        var result = await _h.DeliverAsync(completed);

        Assert.Equal(StripeWebhookOutcome.UnknownAccount, result.Outcome);
        Assert.Equal(0, Balance);
        Assert.Empty(_h.Ledger.Entries);
        var recorded = Assert.Single(_h.Ledger.Unmatched);
        Assert.Equal("acct_unknown", recorded.AccountId);
        Assert.Equal(20 * Dollar, recorded.AmountMicros);
        Assert.Equal(id, recorded.CheckoutSessionId);
    }

    [Fact]
    public async Task ProcessAsync_SessionNamingNoAccount_Recorded()
    {
        // A session someone else created on the same Stripe account (stripe trigger does this too).
        var session = _h.Stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "3000",
        });
        var completed = FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(session.Id));

        var result = await _h.DeliverAsync(completed);

        Assert.Equal(StripeWebhookOutcome.UnknownAccount, result.Outcome);
        Assert.Null(Assert.Single(_h.Ledger.Unmatched).AccountId);
        Assert.Equal(0, Balance);
    }

    [Fact]
    public async Task ProcessAsync_ClientReferenceIdOnly_CreditsThatAccount()
    {
        var session = _h.Stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "500",
            ["client_reference_id"] = StripeHarness.AccountId,
        });

        await _h.DeliverAsync(FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(session.Id)));

        Assert.Equal(5 * Dollar, Balance);
    }

    [Theory]
    [InlineData("payment_intent.succeeded")]
    [InlineData("checkout.session.expired")]
    [InlineData("checkout.session.async_payment_failed")]
    [InlineData("customer.created")]
    public async Task ProcessAsync_OtherEventType_IgnoredWithoutTouchingTheLedger(string type)
    {
        var (sessionId, _) = await PaidSessionAsync();

        var result = await _h.DeliverAsync(FakeStripeWebhook.Event(type, _h.Stripe.SessionJson(sessionId)));

        Assert.Equal(StripeWebhookOutcome.Ignored, result.Outcome);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task ProcessAsync_OtherCurrency_Ignored()
    {
        var session = _h.Stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "eur",
            ["line_items[0][price_data][unit_amount]"] = "500",
            ["metadata[account_id]"] = StripeHarness.AccountId,
        });

        var result = await _h.DeliverAsync(FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(session.Id)));

        Assert.Equal(StripeWebhookOutcome.Ignored, result.Outcome);
        Assert.Equal(0, Balance);
    }

    [Fact]
    public async Task ProcessAsync_SubscriptionSession_Ignored()
    {
        var session = _h.Stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "subscription",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "500",
            ["metadata[account_id]"] = StripeHarness.AccountId,
        });

        var result = await _h.DeliverAsync(FakeStripeWebhook.Event("checkout.session.completed", _h.Stripe.CompleteSession(session.Id)));

        Assert.Equal(StripeWebhookOutcome.Ignored, result.Outcome);
        Assert.Equal(0, Balance);
    }

    [Fact]
    public async Task ProcessAsync_WrongSecret_InvalidSignatureAndLedgerUntouched()
    {
        var (_, completed) = await PaidSessionAsync();

        var result = await _h.DeliverAsync(completed, FakeStripeWebhook.Sign(completed, "whsec_attacker"));

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, result.Outcome);
        Assert.True(result.IsRejected);
        Assert.Null(result.EventId);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task ProcessAsync_TamperedAmount_InvalidSignature()
    {
        var (_, completed) = await PaidSessionAsync();
        var header = FakeStripeWebhook.Sign(completed, StripeHarness.WebhookSecret);

        var result = await _h.DeliverAsync(completed.Replace("\"amount_total\": 2000", "\"amount_total\": 2000000", StringComparison.Ordinal), header);

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, result.Outcome);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task ProcessAsync_SignedSixMinutesAgo_InvalidSignature()
    {
        var (_, completed) = await PaidSessionAsync();
        var header = FakeStripeWebhook.Sign(completed, StripeHarness.WebhookSecret, _h.Clock.GetUtcNow());
        _h.Clock.Advance(TimeSpan.FromMinutes(6));

        var result = await _h.DeliverAsync(completed, header);

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, result.Outcome);
        Assert.Contains("tolerance", result.Message, StringComparison.Ordinal);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task ProcessAsync_ConfiguredTolerance_Honoured()
    {
        await using var h = await StripeHarness.StartAsync(new Dictionary<string, string?> { ["Qlaud:Stripe:SignatureToleranceSeconds"] = "60" });
        const string payload = """{"id":"evt_1","type":"customer.created","data":{"object":{}}}""";
        var header = FakeStripeWebhook.Sign(payload, StripeHarness.WebhookSecret, h.Clock.GetUtcNow());
        h.Clock.Advance(TimeSpan.FromSeconds(61));

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, (await h.DeliverAsync(payload, header)).Outcome);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"id":"evt_1","type":"checkout.session.completed"}""")]
    [InlineData("""{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","metadata":{"account_id":7}}}}""")]
    public async Task ProcessAsync_SignedButNotAnEvent_InvalidPayload(string payload)
    {
        var result = await _h.DeliverAsync(payload);

        Assert.Equal(StripeWebhookOutcome.InvalidPayload, result.Outcome);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task ProcessAsync_SeveralV1OneMatching_Applied()
    {
        // While a signing secret is rolled, Stripe sends one v1 per active secret; any one may match.
        var (_, completed) = await PaidSessionAsync();
        long t = _h.Clock.GetUtcNow().ToUnixTimeSeconds();
        string good = FakeStripeWebhook.Signature(completed, StripeHarness.WebhookSecret, t);
        string other = FakeStripeWebhook.Signature(completed, "whsec_rolled_secret", t);

        var result = await _h.DeliverAsync(completed, $"t={t},v1={other},v1={good},v0={other}");

        Assert.Equal(StripeWebhookOutcome.Applied, result.Outcome);
        Assert.Equal(20 * Dollar, Balance);
    }

    [Fact]
    public async Task ProcessAsync_MatchingSignatureOnlyUnderV0_InvalidSignature()
    {
        var (_, completed) = await PaidSessionAsync();
        long t = _h.Clock.GetUtcNow().ToUnixTimeSeconds();

        var result = await _h.DeliverAsync(completed, $"t={t},v0={FakeStripeWebhook.Signature(completed, StripeHarness.WebhookSecret, t)}");

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, result.Outcome);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    [InlineData("t=abc,v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    [InlineData("t=1700000000")]
    public async Task ProcessAsync_MalformedHeader_InvalidSignature(string header)
    {
        var (_, completed) = await PaidSessionAsync();

        var result = await _h.Webhook.ProcessAsync(System.Text.Encoding.UTF8.GetBytes(completed), header, CancellationToken.None);

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, result.Outcome);
        Assert.Equal(0, _h.Ledger.ApplyCalls);
    }

    [Fact]
    public async Task ProcessAsync_NoHeader_InvalidSignature()
    {
        var (_, completed) = await PaidSessionAsync();

        var result = await _h.Webhook.ProcessAsync(System.Text.Encoding.UTF8.GetBytes(completed), null, CancellationToken.None);

        Assert.Equal(StripeWebhookOutcome.InvalidSignature, result.Outcome);
        Assert.Equal("Missing Stripe-Signature header.", result.Message);
    }

    [Theory]
    [InlineData("2025-01-27.acacia")]
    [InlineData("2024-06-20")]
    public async Task ProcessAsync_EventOfAnotherApiVersion_Applied(string apiVersion)
    {
        // Events carry the webhook endpoint's API version, not necessarily the one Stripe.net is pinned to.
        var (_, completed) = await PaidSessionAsync();
        completed = completed.Replace("\"api_version\": \"2025-01-27.acacia\"", $"\"api_version\": \"{apiVersion}\"", StringComparison.Ordinal);
        Assert.Contains(apiVersion, completed, StringComparison.Ordinal);

        var result = await _h.DeliverAsync(completed);

        Assert.Equal(StripeWebhookOutcome.Applied, result.Outcome);
        Assert.Equal(20 * Dollar, Balance);
    }

    [Fact]
    public async Task UnavailableReason_NoWebhookSecret_NamesTheKey()
    {
        await using var h = await StripeHarness.StartAsync(new Dictionary<string, string?> { ["Qlaud:Stripe:SecretKey"] = null, ["Qlaud:Stripe:WebhookSecret"] = null });

        Assert.Contains("Qlaud:Stripe:WebhookSecret", h.Webhook.UnavailableReason, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Stripe:SecretKey", h.TopUps.UnavailableReason, StringComparison.Ordinal);
    }
}
