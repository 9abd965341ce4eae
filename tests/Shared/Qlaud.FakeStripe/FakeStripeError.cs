namespace Qlaud.FakeStripe;

/// <summary>A Stripe error answer: the status and the <c>{"error":{…}}</c> body.</summary>
/// <param name="Status">The HTTP status, for example 400 or 402.</param>
/// <param name="Type"><c>error.type</c>: <c>invalid_request_error</c>, <c>card_error</c>, <c>api_error</c>, <c>idempotency_error</c>, …</param>
/// <param name="Message"><c>error.message</c>.</param>
/// <param name="Code"><c>error.code</c>, for example <c>parameter_invalid_integer</c>.</param>
/// <param name="Param"><c>error.param</c>, the parameter at fault.</param>
/// <param name="ShouldRetry">When set, sent as the <c>Stripe-Should-Retry</c> header.</param>
public sealed record FakeStripeError(int Status, string Type, string Message, string? Code = null, string? Param = null, bool? ShouldRetry = null)
{
    /// <summary>A 500 <c>api_error</c>, the kind Stripe's clients retry.</summary>
    public static FakeStripeError ServerError { get; } = new(500, "api_error", "An unknown error occurred.");
}
