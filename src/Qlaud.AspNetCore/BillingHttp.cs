using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Billing.Stripe;
using Qlaud.Dialects;
using Qlaud.Dialects.OpenAI;

namespace Qlaud.AspNetCore;

/// <summary>Shared pieces of the wallet top-up and Stripe webhook handlers: errors, JSON.</summary>
/// <remarks>Errors use the OpenAI envelope <c>{"error":{"message","type","param","code"}}</c> with the matching status, like the
/// rest of <c>/v1</c> and the metering branch's account endpoints, so one client-side error path handles every endpoint.</remarks>
internal static class BillingHttp
{
    public static IChatDialect Errors { get; } = DialectRegistry.Get("openai");

    /// <summary>The 501 for a feature that is not configured: the message says what to set.</summary>
    public static Task NotConfiguredAsync(HttpContext context, string message)
        => WriteErrorAsync(context, StatusCodes.Status501NotImplemented, new QlaudError(QlaudErrorKind.Unavailable, message, "stripe_not_configured"));

    public static Task BadRequestAsync(HttpContext context, string message, string? code = null)
        => QlaudHttp.WriteErrorAsync(context, Errors, new QlaudError(QlaudErrorKind.InvalidRequest, message, code));

    /// <summary>Maps a Stripe failure to the answer: the caller's own mistakes as 400 or 404, everything else as a gateway error.</summary>
    public static Task StripeFailedAsync(HttpContext context, StripeException ex)
    {
        string detail = ex.Code is null ? ex.Type : $"{ex.Type}, {ex.Code}";
        var (status, error) = ex switch
        {
            { IsConnectionError: true } => (StatusCodes.Status502BadGateway,
                new QlaudError(QlaudErrorKind.UpstreamError, ex.Message, "stripe_unreachable")),
            { StatusCode: System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden } => (StatusCodes.Status502BadGateway,
                new QlaudError(QlaudErrorKind.UpstreamError, $"Stripe refused Qlaud:Stripe:SecretKey ({detail}): {ex.Message}", "stripe_authentication_failed")),
            { Type: "idempotency_error" } => (StatusCodes.Status400BadRequest,
                new QlaudError(QlaudErrorKind.InvalidRequest, "This Idempotency-Key was already used for a top-up with other parameters; send a new key for a new top-up.", "idempotency_key_reused")),
            { Code: "resource_missing" } => (StatusCodes.Status404NotFound,
                new QlaudError(QlaudErrorKind.NotFound, $"Stripe has no such object: {ex.Message}", "not_found")),
            { Type: "invalid_request_error", Param: "success_url" or "cancel_url" } => (StatusCodes.Status400BadRequest,
                new QlaudError(QlaudErrorKind.InvalidRequest, $"Stripe refused '{ex.Param}': {ex.Message}", ex.Code)),
            _ => (StatusCodes.Status502BadGateway,
                new QlaudError(QlaudErrorKind.UpstreamError, $"Stripe refused the request ({detail}): {ex.Message}", "stripe_error")),
        };
        return WriteErrorAsync(context, status, error);
    }

    /// <summary>Writes <paramref name="error"/> in the OpenAI envelope with an explicit status (501 has no <see cref="QlaudErrorKind"/>).</summary>
    public static async Task WriteErrorAsync(HttpContext context, int status, QlaudError error)
    {
        await WriteJsonAsync(context, status, error, static (writer, e) => OpenAIDialect.WriteErrorBody(writer, e)).ConfigureAwait(false);
    }

    /// <summary>Writes a JSON response rendered by <paramref name="write"/>.</summary>
    public static async Task WriteJsonAsync<TState>(HttpContext context, int status, TState state, Action<Utf8JsonWriter, TState> write)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, state);
        }

        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Cents as a USD number without binary rounding noise (2000 → 20, 1234 → 12.34).</summary>
    public static void WriteUsdFromCents(Utf8JsonWriter writer, string name, long? cents)
    {
        if (cents is { } c)
        {
            writer.WriteNumber(name, c / 100m);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    public static void WriteStringOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    public static string Invariant(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
