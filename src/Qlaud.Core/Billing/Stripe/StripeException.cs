using System.Net;

namespace Qlaud.Billing.Stripe;

/// <summary>Stripe refused a request (its error body, mapped) or could not be reached.</summary>
/// <remarks>The message is Stripe's own, which never contains the full secret key.</remarks>
internal sealed class StripeException : Exception
{
    public StripeException(HttpStatusCode? statusCode, string type, string message, string? code = null, string? param = null, string? requestId = null, Exception? inner = null)
        : base(message, inner)
    {
        StatusCode = statusCode;
        Type = type;
        Code = code;
        Param = param;
        RequestId = requestId;
    }

    /// <summary>Stripe's HTTP status; null when no answer arrived (<see cref="Type"/> is <c>api_connection_error</c>).</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Stripe's <c>error.type</c>: <c>invalid_request_error</c>, <c>card_error</c>, <c>idempotency_error</c>, <c>api_error</c>, … or <c>api_connection_error</c>.</summary>
    public string Type { get; }

    /// <summary>Stripe's <c>error.code</c>, for example <c>parameter_invalid_integer</c> or <c>resource_missing</c>.</summary>
    public string? Code { get; }

    /// <summary>The request parameter the error concerns, for example <c>success_url</c>.</summary>
    public string? Param { get; }

    /// <summary>Stripe's <c>Request-Id</c> header, for support.</summary>
    public string? RequestId { get; }

    /// <summary>Whether no answer arrived at all (connection failure or timeout).</summary>
    public bool IsConnectionError => StatusCode is null;
}
