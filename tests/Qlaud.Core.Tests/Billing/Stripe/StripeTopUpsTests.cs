using Qlaud.Billing.Stripe;

namespace Qlaud.Core.Tests.Billing.Stripe;

public sealed class StripeTopUpsTests : IAsyncLifetime
{
    private StripeHarness _h = null!;

    public async Task InitializeAsync() => _h = await StripeHarness.StartAsync(new Dictionary<string, string?>
    {
        ["Qlaud:Stripe:MinTopUpUsd"] = "5",
        ["Qlaud:Stripe:MaxTopUpUsd"] = "500",
    });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Theory]
    [InlineData("5")]
    [InlineData("20")]
    [InlineData("12.34")]
    [InlineData("500")]
    public void CheckAmount_WithinLimitsInCents_Accepted(string amount)
    {
        Assert.Null(_h.TopUps.CheckAmount(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Theory]
    [InlineData("4.99")]
    [InlineData("0")]
    [InlineData("-20")]
    [InlineData("500.01")]
    [InlineData("10.005")]
    public void CheckAmount_OutsideLimitsOrFractionOfCent_MessageNamesLimitsAndPresets(string amount)
    {
        var message = _h.TopUps.CheckAmount(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal("'amount_usd' must be from $5 to $500 in whole cents; preset amounts: $5, $20, $100.", message);
    }

    [Fact]
    public void IdempotencyKey_SameClientKeySameAccount_Same()
    {
        Assert.Equal(StripeTopUps.IdempotencyKey("a", "k1"), StripeTopUps.IdempotencyKey("a", "k1"));
    }

    [Fact]
    public void IdempotencyKey_SameClientKeyOtherAccount_Different()
    {
        Assert.NotEqual(StripeTopUps.IdempotencyKey("a", "k1"), StripeTopUps.IdempotencyKey("b", "k1"));
    }

    [Fact]
    public void IdempotencyKey_NoClientKey_NewEachTimeAndWithinStripesLimit()
    {
        var first = StripeTopUps.IdempotencyKey("a", null);

        Assert.NotEqual(first, StripeTopUps.IdempotencyKey("a", null));
        Assert.True(first.Length <= 255);
        Assert.True(StripeTopUps.IdempotencyKey("a", new string('k', 1000)).Length <= 255);
    }

    [Fact]
    public async Task CreateAsync_AmountInUsd_SentAsCentsWithProductNameAndAccount()
    {
        await _h.TopUps.CreateAsync("acct_7", 12.34m, "https://app.invalid/ok", "https://app.invalid/no", "idem", CancellationToken.None);

        var form = Assert.Single(_h.Stripe.Requests).Form;
        Assert.Equal("1234", form["line_items[0][price_data][unit_amount]"]);
        Assert.Equal("12.34", form["metadata[qlaud_topup_usd]"]);
        Assert.Equal("Qlaud credits", form["line_items[0][price_data][product_data][name]"]);
        Assert.Equal("acct_7", form["client_reference_id"]);
    }

    [Fact]
    public async Task GetAsync_SessionOfAnotherAccount_Null()
    {
        var id = await _h.CreateSessionAsync(accountId: "acct_other");

        Assert.Null(await _h.TopUps.GetAsync(StripeHarness.AccountId, id, CancellationToken.None));
        Assert.NotNull(await _h.TopUps.GetAsync("acct_other", id, CancellationToken.None));
    }
}
