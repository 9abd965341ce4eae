using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Billing;

public sealed class StripeConfigurationTests
{
    [Theory]
    [InlineData("Qlaud:Stripe:SecretKey", "pk_live_publishable", "Qlaud:Stripe:SecretKey must be a Stripe secret key")]
    [InlineData("Qlaud:Stripe:WebhookSecret", "not-a-secret", "Qlaud:Stripe:WebhookSecret must be the endpoint's signing secret")]
    [InlineData("Qlaud:Stripe:ApiBaseUrl", "not a url", "Qlaud:Stripe:ApiBaseUrl 'not a url'")]
    [InlineData("Qlaud:Stripe:Currency", "eur", "Qlaud:Stripe:Currency 'eur'")]
    [InlineData("Qlaud:Stripe:MinTopUpUsd", "0.10", "Qlaud:Stripe:MinTopUpUsd (0.10)")]
    [InlineData("Qlaud:Stripe:PresetAmountsUsd:0", "lots", "Qlaud:Stripe:PresetAmountsUsd:0 'lots' is not a number")]
    [InlineData("Qlaud:Stripe:SignatureToleranceSeconds", "0", "Qlaud:Stripe:SignatureToleranceSeconds")]
    public async Task Start_BadStripeConfiguration_DoesNotStartAndNamesTheKey(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?> { ["Qlaud:Stripe:WebhookSecret"] = "whsec_ok", [key] = value };

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(settings: settings));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SecretKeyWithoutWebhookSecret_DoesNotStart()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Stripe:SecretKey"] = "sk_test_abc" }));

        Assert.Contains("Qlaud:Stripe:WebhookSecret must be set when Qlaud:Stripe:SecretKey is", ex.Message, StringComparison.Ordinal);
    }
}
