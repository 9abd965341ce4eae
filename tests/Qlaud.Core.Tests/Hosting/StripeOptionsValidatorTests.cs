using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Configuration;
using Qlaud.Hosting;

namespace Qlaud.Core.Tests.Hosting;

public sealed class StripeOptionsValidatorTests
{
    private static (QlaudOptions Options, StripeOptionsValidator Validator) Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new QlaudOptions();
        configuration.GetSection(QlaudOptions.SectionName).Bind(options);
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).BuildServiceProvider();
        return (options, new StripeOptionsValidator(services));
    }

    private static IEnumerable<string> Errors(Dictionary<string, string?> settings)
    {
        var (options, validator) = Bind(settings);
        return validator.Validate(null, options).Failures ?? [];
    }

    [Fact]
    public void Validate_NothingConfigured_Succeeds()
    {
        Assert.Empty(Errors([]));
    }

    [Fact]
    public void Validate_FullConfiguration_Succeeds()
    {
        Assert.Empty(Errors(new()
        {
            ["Qlaud:Stripe:SecretKey"] = "sk_test_abc",
            ["Qlaud:Stripe:WebhookSecret"] = "whsec_abc",
            ["Qlaud:Stripe:ApiBaseUrl"] = "http://127.0.0.1:12111",
            ["Qlaud:Stripe:Currency"] = "USD",
            ["Qlaud:Stripe:MinTopUpUsd"] = "1",
            ["Qlaud:Stripe:MaxTopUpUsd"] = "250",
            ["Qlaud:Stripe:PresetAmountsUsd:0"] = "10",
            ["Qlaud:Stripe:PresetAmountsUsd:1"] = "25.50",
            ["Qlaud:Stripe:SignatureToleranceSeconds"] = "120",
            ["Qlaud:Stripe:ProductName"] = "Credits",
        }));
    }

    [Fact]
    public void Bind_PresetAmountsConfigured_ReplaceTheDefaults()
    {
        var (options, _) = Bind(new() { ["Qlaud:Stripe:PresetAmountsUsd:0"] = "10" });

        Assert.Equal([10m], options.Stripe.EffectivePresetAmountsUsd);
        Assert.Equal([5m, 20m, 100m], new StripeOptions().EffectivePresetAmountsUsd);
    }

    [Theory]
    [InlineData("Qlaud:Stripe:SecretKey", "pk_test_publishable", "Qlaud:Stripe:SecretKey must be a Stripe secret key")]
    [InlineData("Qlaud:Stripe:WebhookSecret", "secret", "Qlaud:Stripe:WebhookSecret must be the endpoint's signing secret (whsec_…)")]
    [InlineData("Qlaud:Stripe:ApiBaseUrl", "api.stripe.com", "Qlaud:Stripe:ApiBaseUrl 'api.stripe.com' must be an absolute http(s) URL")]
    [InlineData("Qlaud:Stripe:ApiBaseUrl", "ftp://127.0.0.1", "Qlaud:Stripe:ApiBaseUrl")]
    [InlineData("Qlaud:Stripe:Currency", "eur", "Qlaud:Stripe:Currency 'eur' is not supported")]
    [InlineData("Qlaud:Stripe:MinTopUpUsd", "0.25", "Qlaud:Stripe:MinTopUpUsd (0.25) must be whole cents from $0.50")]
    [InlineData("Qlaud:Stripe:MaxTopUpUsd", "1000000", "Qlaud:Stripe:MaxTopUpUsd (1000000) must be whole cents")]
    [InlineData("Qlaud:Stripe:MaxTopUpUsd", "2", "Qlaud:Stripe:MinTopUpUsd ($5.00) must not be larger than Qlaud:Stripe:MaxTopUpUsd ($2.00)")]
    [InlineData("Qlaud:Stripe:PresetAmountsUsd:0", "2000", "Qlaud:Stripe:PresetAmountsUsd:0 (2000) must be whole cents between")]
    [InlineData("Qlaud:Stripe:PresetAmountsUsd:0", "twenty", "Qlaud:Stripe:PresetAmountsUsd:0 'twenty' is not a number")]
    [InlineData("Qlaud:Stripe:SignatureToleranceSeconds", "0", "Qlaud:Stripe:SignatureToleranceSeconds must be from 1 to 3600")]
    [InlineData("Qlaud:Stripe:ProductName", " ", "Qlaud:Stripe:ProductName must be 1 to 200 characters")]
    public void Validate_BadValue_MessageNamesTheKey(string key, string value, string expected)
    {
        var errors = Errors(new() { [key] = value, ["Qlaud:Stripe:WebhookSecret"] = key.EndsWith("WebhookSecret", StringComparison.Ordinal) ? value : "whsec_ok" });

        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SecretKeyWithoutWebhookSecret_Fails()
    {
        var errors = Errors(new() { ["Qlaud:Stripe:SecretKey"] = "sk_test_abc" });

        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Stripe:WebhookSecret must be set when Qlaud:Stripe:SecretKey is", StringComparison.Ordinal));
    }
}
