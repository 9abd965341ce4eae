using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Billing;
using Qlaud.FakeProvider;
using Qlaud.FakeStripe;
using Qlaud.Storage;

namespace Qlaud.AspNetCore.Tests.Billing;

/// <summary>Stripe payments for accounts that do not exist yet, end to end on the real SQLite wallet: recorded by the webhook,
/// listed by <c>GET /v1/wallet/unapplied</c>, applied once when the account appears.</summary>
public sealed class UnappliedPaymentEndpointsTests : IAsyncLifetime
{
    private const long Dollar = 1_000_000;
    private readonly TempDatabase _database = new();
    private FakeStripeServer _stripe = null!;
    private FakeProviderServer _fake = null!;

    public async Task InitializeAsync()
    {
        _stripe = await FakeStripeServer.StartAsync();
        _fake = await FakeProviderServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        await _stripe.DisposeAsync();
        _database.Dispose();
    }

    private Task<GatewayHost> StartGatewayAsync() => GatewayHost.StartAsync(_fake, new Dictionary<string, string?>
    {
        ["Qlaud:Storage:ConnectionString"] = _database.ConnectionString,
        ["Qlaud:Stripe:SecretKey"] = StripeGateway.SecretKey,
        ["Qlaud:Stripe:WebhookSecret"] = StripeGateway.WebhookSecret,
        ["Qlaud:Stripe:ApiBaseUrl"] = _stripe.BaseUri.ToString(),
    }, disposeFake: false);

    /// <summary>A paid $20 Checkout Session naming <paramref name="accountId"/>, delivered to the webhook.</summary>
    private async Task<(string SessionId, string Event, JsonElement Answer)> PayForAsync(GatewayHost gateway, string accountId)
    {
        var session = _stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "2000",
            ["client_reference_id"] = accountId,
            ["metadata[account_id]"] = accountId,
        });
        string completed = FakeStripeWebhook.Event("checkout.session.completed", _stripe.CompleteSession(session.Id));
        return (session.Id, completed, await DeliverAsync(gateway, completed));
    }

    private static async Task<JsonElement> DeliverAsync(GatewayHost gateway, string payload)
    {
        using var anonymous = gateway.Http(key: null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/stripe/webhook") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", FakeStripeWebhook.Sign(payload, StripeGateway.WebhookSecret));
        using var response = await anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<JsonElement[]> ListAsync(GatewayHost gateway, string query = "")
    {
        using var admin = gateway.Http();
        using var response = await admin.GetAsync("/v1/wallet/unapplied" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("list", list.GetProperty("object").GetString());
        return [.. list.GetProperty("data").EnumerateArray()];
    }

    /// <summary>Creates an account with an empty wallet, as an operator's account creation does (its endpoint is not part of this branch).</summary>
    private static async Task CreateAccountAsync(GatewayHost gateway, string accountId)
    {
        await using var db = await gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>().CreateDbContextAsync();
        db.Accounts.Add(new AccountEntity { Id = accountId, Name = accountId });
        db.Wallets.Add(new WalletEntity { AccountId = accountId });
        await db.SaveChangesAsync();
    }

    private static async Task<(long Balance, LedgerEntryEntity[] Entries)> WalletOfAsync(GatewayHost gateway, string accountId)
    {
        await using var db = await gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>().CreateDbContextAsync();
        var wallet = await db.Wallets.AsNoTracking().SingleAsync(w => w.AccountId == accountId);
        var entries = await db.LedgerEntries.AsNoTracking().Where(e => e.AccountId == accountId).ToArrayAsync();
        return (wallet.BalanceMicros, entries);
    }

    [Fact]
    public async Task ListAsync_PaymentForUnknownAccount_ListedThenCreditedOnceWhenTheAccountAppears()
    {
        await using var gateway = await StartGatewayAsync();

        var (sessionId, completed, answer) = await PayForAsync(gateway, "acct_new");
        Assert.Equal("unknown_account", answer.GetProperty("outcome").GetString());
        Assert.Contains("applied once the account exists", answer.GetProperty("message").GetString(), StringComparison.Ordinal);
        await DeliverAsync(gateway, completed); // Stripe retries: still one record

        var listed = Assert.Single(await ListAsync(gateway));
        Assert.Equal("wallet.unapplied_payment", listed.GetProperty("object").GetString());
        Assert.Equal("unapplied", listed.GetProperty("status").GetString());
        Assert.Equal("acct_new", listed.GetProperty("account_id").GetString());
        Assert.Equal("topup", listed.GetProperty("kind").GetString());
        Assert.Equal(20m, listed.GetProperty("amount_usd").GetDecimal());
        Assert.Equal(sessionId, listed.GetProperty("checkout_session_id").GetString());
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("applied_at").ValueKind);

        await CreateAccountAsync(gateway, "acct_new");
        var service = gateway.Services.GetRequiredService<UnappliedPaymentService>();
        var results = await Task.WhenAll(
            Task.Run(() => service.ApplyUnappliedPaymentsAsync("acct_new", CancellationToken.None)),
            Task.Run(() => service.ApplyUnappliedPaymentsAsync("acct_new", CancellationToken.None)));

        Assert.Equal(1, results.Sum(static r => r.Count));
        Assert.Equal(20 * Dollar, results.Sum(static r => r.AmountMicros));
        var (balance, entries) = await WalletOfAsync(gateway, "acct_new");
        Assert.Equal(20 * Dollar, balance);
        var entry = Assert.Single(entries);
        Assert.Equal("stripe:checkout_session:" + sessionId, entry.ExternalEventId);
        Assert.Empty(await ListAsync(gateway));
        var applied = Assert.Single(await ListAsync(gateway, "?status=applied"));
        Assert.Equal("applied", applied.GetProperty("status").GetString());
        Assert.Equal(entry.Id, applied.GetProperty("ledger_entry_id").GetInt64());

        // Applying again, or Stripe delivering the event again now that the account exists, changes nothing.
        Assert.Equal(0, (await service.ApplyUnappliedPaymentsAsync("acct_new", CancellationToken.None)).Count);
        Assert.Equal("duplicate", (await DeliverAsync(gateway, completed)).GetProperty("outcome").GetString());
        Assert.Equal(20 * Dollar, (await WalletOfAsync(gateway, "acct_new")).Balance);
    }

    [Fact]
    public async Task ListAsync_EventRedeliveredAfterTheAccountAppears_CreditedOnceAndMarkedApplied()
    {
        await using var gateway = await StartGatewayAsync();
        var (_, completed, _) = await PayForAsync(gateway, "acct_resent");
        await CreateAccountAsync(gateway, "acct_resent");

        // The operator resends the event from the Dashboard before anything applied the record.
        Assert.Equal("applied", (await DeliverAsync(gateway, completed)).GetProperty("outcome").GetString());
        var applied = await gateway.Services.GetRequiredService<UnappliedPaymentService>().ApplyUnappliedPaymentsAsync("acct_resent", CancellationToken.None);

        Assert.Equal(0, applied.Count);
        Assert.Equal(20 * Dollar, (await WalletOfAsync(gateway, "acct_resent")).Balance);
        Assert.Empty(await ListAsync(gateway));
        Assert.Single(await ListAsync(gateway, "?status=all"));
    }

    [Fact]
    public async Task StartAsync_AccountCreatedSinceThePayment_AppliedOnceAtStartUp()
    {
        var first = await StartGatewayAsync();
        await PayForAsync(gateway: first, "acct_later");
        await CreateAccountAsync(first, "acct_later");
        await first.DisposeAsync();

        await using (var second = await StartGatewayAsync())
        {
            Assert.Equal(20 * Dollar, (await WalletOfAsync(second, "acct_later")).Balance);
            Assert.Empty(await ListAsync(second));
        }

        await using var third = await StartGatewayAsync();
        var (balance, entries) = await WalletOfAsync(third, "acct_later");
        Assert.Equal(20 * Dollar, balance);
        Assert.Single(entries);
    }

    [Fact]
    public async Task ListAsync_PaymentNamingNoAccount_ListedWithoutAccount()
    {
        await using var gateway = await StartGatewayAsync();
        var session = _stripe.AddSession(new Dictionary<string, string>
        {
            ["mode"] = "payment",
            ["line_items[0][price_data][currency]"] = "usd",
            ["line_items[0][price_data][unit_amount]"] = "500",
        });

        await DeliverAsync(gateway, FakeStripeWebhook.Event("checkout.session.completed", _stripe.CompleteSession(session.Id)));

        var listed = Assert.Single(await ListAsync(gateway));
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("account_id").ValueKind);
        Assert.Equal(5m, listed.GetProperty("amount_usd").GetDecimal());
    }

    [Fact]
    public async Task ListAsync_AdminScopeKey_403()
    {
        await using var gateway = await StartGatewayAsync();
        using var master = gateway.Http();
        using var minted = await master.PostAsJsonAsync("/v1/keys", new { name = "ops", scope = "admin" });
        minted.EnsureSuccessStatusCode();
        string adminKey = (await minted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        using var admin = gateway.Http(adminKey);

        using var response = await admin.GetAsync("/v1/wallet/unapplied");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("insufficient_permissions", error.GetProperty("code").GetString());
        Assert.Contains("bootstrap", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "", HttpStatusCode.Unauthorized)]
    [InlineData(GatewayHost.MasterKey, "?status=pending", HttpStatusCode.BadRequest)]
    [InlineData(GatewayHost.MasterKey, "?limit=0", HttpStatusCode.BadRequest)]
    public async Task ListAsync_NoKeyOrBadQuery_ErrorInOpenAIShape(string? key, string query, HttpStatusCode expected)
    {
        await using var gateway = await StartGatewayAsync();
        using var http = gateway.Http(key);

        using var response = await http.GetAsync("/v1/wallet/unapplied" + query);

        Assert.Equal(expected, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }
}
