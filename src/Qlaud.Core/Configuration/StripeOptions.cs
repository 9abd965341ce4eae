namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Stripe</c> section: prepaid wallet top-ups with Stripe Checkout and the signed webhook.</summary>
/// <remarks>
/// Nothing here is required: without <see cref="SecretKey"/> the top-up endpoint answers 501, without
/// <see cref="WebhookSecret"/> the webhook does. Secrets are never logged.
/// </remarks>
public sealed class StripeOptions
{
    /// <summary>Stripe's API base URL: the public default of <see cref="ApiBaseUrl"/>.</summary>
    public const string DefaultApiBaseUrl = "https://api.stripe.com";

    /// <summary>The preset amounts offered when <see cref="PresetAmountsUsd"/> is not configured: $5, $20, $100.</summary>
    internal static readonly IReadOnlyList<decimal> DefaultPresetAmountsUsd = [5m, 20m, 100m];

    /// <summary>The Stripe secret key (<c>sk_live_…</c>, <c>sk_test_…</c>) or a restricted key (<c>rk_…</c>) allowed to write Checkout Sessions.</summary>
    public string? SecretKey { get; set; }

    /// <summary>The webhook endpoint's signing secret (<c>whsec_…</c>), from the Dashboard or <c>stripe listen</c>. Required with <see cref="SecretKey"/>.</summary>
    public string? WebhookSecret { get; set; }

    /// <summary>The API base URL, without <c>/v1</c> (default <see cref="DefaultApiBaseUrl"/>, Stripe's public API); tests point it at a fake.</summary>
    public string ApiBaseUrl { get; set; } = DefaultApiBaseUrl;

    /// <summary>The currency of top-ups. Only <c>usd</c>: wallets are kept in micro-USD.</summary>
    public string Currency { get; set; } = "usd";

    /// <summary>The smallest top-up in USD (default 5; at least 0.50, Stripe's minimum charge).</summary>
    public decimal MinTopUpUsd { get; set; } = 5m;

    /// <summary>The largest top-up in USD (default 1000).</summary>
    public decimal MaxTopUpUsd { get; set; } = 1000m;

    /// <summary>Amounts a top-up UI offers as buttons (default 5, 20, 100); each within the minimum and maximum.</summary>
    /// <remarks>Null by default: the configuration binder appends to a pre-filled list instead of replacing it.</remarks>
    public List<decimal>? PresetAmountsUsd { get; set; }

    /// <summary>How far a webhook's signed timestamp may be from now, in seconds (default 300, Stripe's recommendation).</summary>
    public int SignatureToleranceSeconds { get; set; } = 300;

    /// <summary>The line item's name on the Checkout page and the receipt (default <c>Qlaud credits</c>).</summary>
    public string ProductName { get; set; } = "Qlaud credits";

    /// <summary>The preset amounts in effect: <see cref="PresetAmountsUsd"/> or the defaults.</summary>
    internal IReadOnlyList<decimal> EffectivePresetAmountsUsd => PresetAmountsUsd is { Count: > 0 } presets ? presets : DefaultPresetAmountsUsd;
}
