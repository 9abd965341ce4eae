namespace Qlaud.FakeStripe;

/// <summary>A Checkout Session the fake created, and what happened to it since.</summary>
public sealed class FakeStripeSession
{
    internal FakeStripeSession(string id, IReadOnlyDictionary<string, string> form, long created)
    {
        Id = id;
        Form = form;
        Created = created;
        Metadata = Nested(form, "metadata[");
        PaymentIntentMetadata = Nested(form, "payment_intent_data[metadata][");
    }

    /// <summary>The id, <c>cs_test_…</c>.</summary>
    public string Id { get; }

    /// <summary>The form the session was created with.</summary>
    public IReadOnlyDictionary<string, string> Form { get; }

    /// <summary>Unix seconds.</summary>
    public long Created { get; }

    /// <summary><c>metadata[…]</c> as sent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary><c>payment_intent_data[metadata][…]</c> as sent: Stripe copies it to the charge when the payment is confirmed.</summary>
    public IReadOnlyDictionary<string, string> PaymentIntentMetadata { get; }

    /// <summary>The line item's amount times its quantity, in cents.</summary>
    public long AmountTotal => long.Parse(Form["line_items[0][price_data][unit_amount]"], System.Globalization.CultureInfo.InvariantCulture)
        * long.Parse(Form.GetValueOrDefault("line_items[0][quantity]", "1"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The currency.</summary>
    public string Currency => Form["line_items[0][price_data][currency]"];

    /// <summary><c>open</c>, <c>complete</c> or <c>expired</c>.</summary>
    public string Status { get; internal set; } = "open";

    /// <summary><c>unpaid</c> or <c>paid</c>.</summary>
    public string PaymentStatus { get; internal set; } = "unpaid";

    /// <summary>Set once the payer confirmed: <c>pi_test_…</c>.</summary>
    public string? PaymentIntentId { get; internal set; }

    /// <summary>Set once the payer confirmed: <c>ch_test_…</c>.</summary>
    public string? ChargeId { get; internal set; }

    /// <summary>What was charged, in cents (may differ from <see cref="AmountTotal"/> when a test says so, as after a discount).</summary>
    public long? AmountPaid { get; internal set; }

    /// <summary>The charge's cumulative refunded amount, in cents.</summary>
    public long AmountRefunded { get; internal set; }

    private static Dictionary<string, string> Nested(IReadOnlyDictionary<string, string> form, string prefix)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in form)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && key.EndsWith(']') && key.IndexOf('[', prefix.Length) < 0)
            {
                result[key[prefix.Length..^1]] = value;
            }
        }

        return result;
    }
}
