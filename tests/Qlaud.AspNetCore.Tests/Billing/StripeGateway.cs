using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Billing;
using Qlaud.FakeStripe;
using Qlaud.Tests.Wallet;

namespace Qlaud.AspNetCore.Tests.Billing;

/// <summary>A real gateway (<see cref="GatewayHost"/>) with Stripe configured against a <see cref="FakeStripeServer"/> on 127.0.0.1
/// and an <see cref="InMemoryWalletLedger"/> holding the <c>default</c> account (the master key's).</summary>
internal sealed class StripeGateway : IAsyncDisposable
{
    public const string SecretKey = "sk_test_qlaud_gateway_0000";
    public const string WebhookSecret = "whsec_test_qlaud_gateway";
    public const string AccountId = "default";
    public const long Dollar = 1_000_000;

    private StripeGateway(GatewayHost gateway, FakeStripeServer stripe, InMemoryWalletLedger ledger)
    {
        Gateway = gateway;
        Stripe = stripe;
        Ledger = ledger;
    }

    public GatewayHost Gateway { get; }

    public FakeStripeServer Stripe { get; }

    public InMemoryWalletLedger Ledger { get; }

    public long Balance => Ledger.BalanceOf(AccountId);

    /// <param name="settings">Extra configuration; a null value removes a Stripe setting.</param>
    /// <param name="withLedger">Whether a wallet ledger is registered (false: as before the metering merge).</param>
    public static async Task<StripeGateway> StartAsync(IDictionary<string, string?>? settings = null, bool withLedger = true)
    {
        var stripe = await FakeStripeServer.StartAsync();
        var config = new Dictionary<string, string?>
        {
            ["Qlaud:Stripe:SecretKey"] = SecretKey,
            ["Qlaud:Stripe:WebhookSecret"] = WebhookSecret,
            ["Qlaud:Stripe:ApiBaseUrl"] = stripe.BaseUri.ToString(),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var ledger = new InMemoryWalletLedger(AccountId);
        try
        {
            var gateway = await GatewayHost.StartAsync(settings: config, services: services =>
            {
                if (withLedger)
                {
                    services.AddSingleton<IWalletLedger>(ledger);
                }
            });
            return new StripeGateway(gateway, stripe, ledger);
        }
        catch
        {
            await stripe.DisposeAsync();
            throw;
        }
    }

    public HttpClient Http(string? key = GatewayHost.MasterKey) => Gateway.Http(key);

    /// <summary><c>POST /v1/wallet/topup</c> with the master key.</summary>
    public async Task<HttpResponseMessage> TopUpAsync(object body, string? idempotencyKey = null, string? key = GatewayHost.MasterKey)
    {
        using var http = Http(key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/wallet/topup") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await http.SendAsync(request);
    }

    /// <summary>Tops up <paramref name="amountUsd"/> through the gateway and returns the session id.</summary>
    public async Task<string> CreateTopUpAsync(decimal amountUsd = 20m)
    {
        using var response = await TopUpAsync(new { amount_usd = amountUsd, success_url = "https://app.invalid/paid", cancel_url = "https://app.invalid/cancelled" });
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Posts <paramref name="payload"/> to <c>/v1/stripe/webhook</c> without a Qlaud key, signed now unless a header is given.</summary>
    public async Task<HttpResponseMessage> PostWebhookAsync(string payload, string? signature = null, bool sign = true)
    {
        using var http = Http(key: null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/stripe/webhook") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        if (signature is not null || sign)
        {
            request.Headers.TryAddWithoutValidation("Stripe-Signature", signature ?? FakeStripeWebhook.Sign(payload, WebhookSecret));
        }

        return await http.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Stripe.DisposeAsync();
    }
}
