using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Validates <c>Qlaud:Stripe</c> at start-up; every message names the key it concerns.</summary>
/// <remarks>A separate validator from <see cref="QlaudOptionsValidator"/>: options validators compose, and all of them run.</remarks>
internal sealed class StripeOptionsValidator(IServiceProvider services) : IValidateOptions<QlaudOptions>
{
    private const string Section = "Qlaud:Stripe";

    /// <summary>Stripe's minimum charge in USD.</summary>
    private const decimal StripeMinimumUsd = 0.50m;

    /// <summary>Stripe's largest amount for a USD charge (eight digits of cents).</summary>
    private const decimal StripeMaximumUsd = 999_999.99m;

    public ValidateOptionsResult Validate(string? name, QlaudOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stripe = options.Stripe;
        var errors = new List<string>();
        if (services.GetService(typeof(IConfiguration)) is IConfiguration configuration)
        {
            // The binder silently drops a list element that does not convert; check the raw values.
            foreach (var child in configuration.GetSection($"{Section}:{nameof(StripeOptions.PresetAmountsUsd)}").GetChildren())
            {
                if (child.Value is { } value && !decimal.TryParse(value, NumberStyles.Number, CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"{child.Path} '{value}' is not a number (USD, for example 20).");
                }
            }
        }

        if (stripe.SecretKey is { } secretKey && !string.IsNullOrWhiteSpace(secretKey))
        {
            if (!secretKey.StartsWith("sk_", StringComparison.Ordinal) && !secretKey.StartsWith("rk_", StringComparison.Ordinal))
            {
                errors.Add($"{Section}:SecretKey must be a Stripe secret key (sk_live_…, sk_test_…) or restricted key (rk_…).");
            }

            if (string.IsNullOrWhiteSpace(stripe.WebhookSecret))
            {
                errors.Add($"{Section}:WebhookSecret must be set when {Section}:SecretKey is: without the signed webhook, paid top-ups are never credited.");
            }
        }

        if (stripe.WebhookSecret is { } webhookSecret && !string.IsNullOrWhiteSpace(webhookSecret) && !webhookSecret.StartsWith("whsec_", StringComparison.Ordinal))
        {
            errors.Add($"{Section}:WebhookSecret must be the endpoint's signing secret (whsec_…).");
        }

        if (!Uri.TryCreate(stripe.ApiBaseUrl, UriKind.Absolute, out var baseUri)
            || (baseUri.Scheme != Uri.UriSchemeHttps && baseUri.Scheme != Uri.UriSchemeHttp)
            || !string.IsNullOrEmpty(baseUri.Query))
        {
            errors.Add($"{Section}:ApiBaseUrl '{stripe.ApiBaseUrl}' must be an absolute http(s) URL without a query (default {StripeOptions.DefaultApiBaseUrl}).");
        }

        if (!string.Equals(stripe.Currency, "usd", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{Section}:Currency '{stripe.Currency}' is not supported: top-ups must be in 'usd' because wallets are kept in micro-USD.");
        }

        bool minValid = CheckAmount(stripe.MinTopUpUsd, "MinTopUpUsd", errors);
        bool maxValid = CheckAmount(stripe.MaxTopUpUsd, "MaxTopUpUsd", errors);
        if (minValid && maxValid && stripe.MinTopUpUsd > stripe.MaxTopUpUsd)
        {
            errors.Add($"{Section}:MinTopUpUsd ({Usd(stripe.MinTopUpUsd)}) must not be larger than {Section}:MaxTopUpUsd ({Usd(stripe.MaxTopUpUsd)}).");
        }

        if (stripe.PresetAmountsUsd is { } presets && minValid && maxValid)
        {
            for (int i = 0; i < presets.Count; i++)
            {
                if (presets[i] < stripe.MinTopUpUsd || presets[i] > stripe.MaxTopUpUsd || decimal.Round(presets[i], 2) != presets[i])
                {
                    errors.Add($"{Section}:PresetAmountsUsd:{i} ({presets[i].ToString(CultureInfo.InvariantCulture)}) must be whole cents between {Section}:MinTopUpUsd ({Usd(stripe.MinTopUpUsd)}) and {Section}:MaxTopUpUsd ({Usd(stripe.MaxTopUpUsd)}).");
                }
            }
        }

        if (stripe.SignatureToleranceSeconds is < 1 or > 3600)
        {
            errors.Add($"{Section}:SignatureToleranceSeconds must be from 1 to 3600 (default 300); Stripe signs every delivery attempt afresh, so a long window is never needed.");
        }

        if (string.IsNullOrWhiteSpace(stripe.ProductName) || stripe.ProductName.Length > 200)
        {
            errors.Add($"{Section}:ProductName must be 1 to 200 characters (default 'Qlaud credits').");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool CheckAmount(decimal amount, string key, List<string> errors)
    {
        if (amount < StripeMinimumUsd || amount > StripeMaximumUsd || decimal.Round(amount, 2) != amount)
        {
            errors.Add($"{Section}:{key} ({amount.ToString(CultureInfo.InvariantCulture)}) must be whole cents from {Usd(StripeMinimumUsd)} (Stripe's minimum charge) to {Usd(StripeMaximumUsd)}.");
            return false;
        }

        return true;
    }

    internal static string Usd(decimal amount) => "$" + amount.ToString("0.00", CultureInfo.InvariantCulture);
}
