using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeStripe;

namespace Qlaud.AspNetCore.Tests.Billing;

public sealed class WalletTopUpMeteringTests
{
    [Fact]
    public async Task TopUpPaid_KeyThatGot402_CallsAgain()
    {
        await using var stripe = await FakeStripeServer.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Metering:EnforceWallet"] = "true",
            ["Qlaud:Stripe:SecretKey"] = StripeGateway.SecretKey,
            ["Qlaud:Stripe:WebhookSecret"] = StripeGateway.WebhookSecret,
            ["Qlaud:Stripe:ApiBaseUrl"] = stripe.BaseUri.ToString(),
        });
        using var admin = gateway.Http();

        // An end-user key on the empty wallet: 402 and no upstream request.
        using var minted = await admin.PostAsJsonAsync("/v1/keys", new { name = "alice", end_user_id = "alice", max_spend_usd = 10 });
        minted.EnsureSuccessStatusCode();
        string key = (await minted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAIChat("fake-gpt", key).CompleteChatAsync("hi"));
        Assert.Equal(402, refused.Status);
        Assert.Empty(gateway.Fake.Requests);

        // Top up $20 through Stripe Checkout; the signed webhook credits the wallet.
        using var topUp = await admin.PostAsJsonAsync("/v1/wallet/topup", new { amount_usd = 20, success_url = "https://app.invalid/ok", cancel_url = "https://app.invalid/no" });
        topUp.EnsureSuccessStatusCode();
        string sessionId = (await topUp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        string completed = FakeStripeWebhook.Event("checkout.session.completed", stripe.CompleteSession(sessionId));
        using var anonymous = gateway.Http(key: null);
        using var webhook = new HttpRequestMessage(HttpMethod.Post, "/v1/stripe/webhook") { Content = new StringContent(completed) };
        webhook.Headers.TryAddWithoutValidation("Stripe-Signature", FakeStripeWebhook.Sign(completed, StripeGateway.WebhookSecret));
        using var delivered = await anonymous.SendAsync(webhook);
        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        Assert.Equal("applied", (await delivered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString());

        // The same key now calls the model, and the wallet shows the credit less what the call cost.
        var answer = await gateway.OpenAIChat("fake-gpt", key).CompleteChatAsync("hi");
        Assert.NotEmpty(answer.Value.Content[0].Text);
        Assert.Single(gateway.Fake.Requests);
        var wallet = await admin.GetFromJsonAsync<JsonElement>("/v1/wallet");
        decimal balance = wallet.GetProperty("balance_usd").GetDecimal();
        Assert.InRange(balance, 19.9m, 19.999999m);
    }
}
