using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Billing;
using Qlaud.Billing.Stripe;
using Qlaud.FakeStripe;
using Qlaud.Tests.Wallet;

namespace Qlaud.Core.Tests.Billing.Stripe;

/// <summary>The real <c>AddQlaud()</c> services with Stripe pointed at a <see cref="FakeStripeServer"/> over HTTP on 127.0.0.1,
/// an <see cref="InMemoryWalletLedger"/> with the <c>default</c> account, and a clock the test sets.</summary>
internal sealed class StripeHarness : IAsyncDisposable
{
    public const string SecretKey = "sk_test_qlaud_harness_0000";
    public const string WebhookSecret = "whsec_test_qlaud_harness";
    public const string AccountId = "default";

    private readonly ServiceProvider _services;

    private StripeHarness(FakeStripeServer stripe, ServiceProvider services, InMemoryWalletLedger ledger, StripeTestClock clock)
    {
        Stripe = stripe;
        _services = services;
        Ledger = ledger;
        Clock = clock;
    }

    public FakeStripeServer Stripe { get; }

    public InMemoryWalletLedger Ledger { get; }

    public StripeTestClock Clock { get; }

    public StripeCheckoutClient Client => _services.GetRequiredService<StripeCheckoutClient>();

    public StripeWebhookProcessor Webhook => _services.GetRequiredService<StripeWebhookProcessor>();

    public StripeTopUps TopUps => _services.GetRequiredService<StripeTopUps>();

    public static async Task<StripeHarness> StartAsync(IDictionary<string, string?>? settings = null, bool withLedger = true)
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
        var clock = new StripeTestClock(DateTimeOffset.UtcNow);
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddSingleton<TimeProvider>(clock);
        if (withLedger)
        {
            services.AddSingleton<IWalletLedger>(ledger);
        }

        services.AddQlaud();
        return new StripeHarness(stripe, services.BuildServiceProvider(), ledger, clock);
    }

    /// <summary>Posts <paramref name="payload"/> to the processor, signed now with the configured secret.</summary>
    public ValueTask<StripeWebhookResult> DeliverAsync(string payload, string? header = null)
        => Webhook.ProcessAsync(System.Text.Encoding.UTF8.GetBytes(payload), header ?? FakeStripeWebhook.Sign(payload, WebhookSecret, Clock.GetUtcNow()), CancellationToken.None);

    /// <summary>Creates a top-up session at the fake Stripe through the real client and returns its id.</summary>
    public async Task<string> CreateSessionAsync(decimal amountUsd = 20m, string accountId = AccountId)
    {
        var session = await TopUps.CreateAsync(accountId, amountUsd, "http://127.0.0.1/ok", "http://127.0.0.1/cancel", StripeTopUps.IdempotencyKey(accountId, null), CancellationToken.None);
        return session.Id!;
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Stripe.DisposeAsync();
    }
}

/// <summary>A clock the test sets; named apart from the metering tests' clock so the branches merge without a clash.</summary>
internal sealed class StripeTestClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
