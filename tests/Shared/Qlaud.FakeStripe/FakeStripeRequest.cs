namespace Qlaud.FakeStripe;

/// <summary>One HTTP request as the fake Stripe received it.</summary>
public sealed class FakeStripeRequest
{
    internal FakeStripeRequest(string method, string path, Dictionary<string, string> headers, Dictionary<string, string> form, string body)
    {
        Method = method;
        Path = path;
        Headers = headers;
        Form = form;
        Body = body;
    }

    /// <summary>The HTTP method.</summary>
    public string Method { get; }

    /// <summary>The path with the query string, for example <c>/v1/checkout/sessions</c>.</summary>
    public string Path { get; }

    /// <summary>The request headers, case-insensitive; repeated headers joined with <c>", "</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The decoded form fields of a form-encoded body, by their bracketed names (<c>line_items[0][quantity]</c>).</summary>
    public IReadOnlyDictionary<string, string> Form { get; }

    /// <summary>The raw body as text.</summary>
    public string Body { get; }

    /// <summary>The <c>Idempotency-Key</c> header, if sent.</summary>
    public string? IdempotencyKey => GetHeader("Idempotency-Key");

    /// <summary>A header value, or null.</summary>
    /// <param name="name">The header name, any case.</param>
    public string? GetHeader(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <inheritdoc/>
    public override string ToString() => $"{Method} {Path}";
}
