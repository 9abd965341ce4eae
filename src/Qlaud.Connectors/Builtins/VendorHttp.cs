using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly;

namespace Qlaud.Connectors.Builtins;

/// <summary>What the builtins that call a vendor's HTTP API share: the call within the tool's timeout, the vendor's answer read
/// with a size limit, the common failures turned into texts the model can act on, keys from configuration or the vendor's
/// environment variable, and JSON written without reflection.</summary>
internal static partial class VendorHttp
{
    /// <summary>The largest vendor answer read (4 MiB); a larger one is a failure, not a truncated result.</summary>
    public const int MaxResponseBytes = 4 * 1024 * 1024;

    /// <summary>The longest vendor text quoted back to the model.</summary>
    private const int MaxDetailChars = 300;

    /// <summary>The key of a builtin: <paramref name="configured"/> (<c>Qlaud:Builtins:{name}:ApiKey</c>) when set, else the first
    /// of the vendor's conventional environment variables found in <paramref name="configuration"/>.</summary>
    public static string? Key(string? configured, IConfiguration configuration, params ReadOnlySpan<string> variables)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured.Trim();
        }

        foreach (string variable in variables)
        {
            if (configuration[variable] is { } value && !string.IsNullOrWhiteSpace(value))
            {
                return value.Trim();
            }
        }

        return null;
    }

    /// <summary>The base URL of the vendor API with a trailing slash: <paramref name="configured"/> when set, else <paramref name="published"/>.</summary>
    public static Uri BaseUri(string? configured, string published)
    {
        string url = string.IsNullOrWhiteSpace(configured) ? published : configured.Trim();
        return new Uri(url.EndsWith('/') ? url : url + "/", UriKind.Absolute);
    }

    /// <summary>Resilience for a vendor call that is safe to repeat (a read, or a write with an idempotency key): the standard
    /// handler's retries, with the circuit breaker's sampling window at twice the attempt timeout (the standard handler's
    /// validation refuses a window shorter than that, and the 30 s attempt timeout of builtins equals the default window).</summary>
    public static void Repeatable(HttpStandardResilienceOptions options)
        => options.CircuitBreaker.SamplingDuration = options.AttemptTimeout.Timeout * 2;

    /// <summary>Resilience for a call that creates something and has no idempotency key: only 429s (which the vendor did not
    /// act on) are retried, never 5xx or timeouts, after which the vendor may have acted.</summary>
    public static void RetryRateLimitsOnly(HttpStandardResilienceOptions options)
    {
        Repeatable(options);
        options.Retry.ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result?.StatusCode == HttpStatusCode.TooManyRequests);
    }

    /// <summary>An idempotency key for one call of <paramref name="tool"/>: derived from the caller's account, the model's
    /// tool-call id and the arguments when there is a call id (so a repeated call is recognised by the vendor, and a reused id with
    /// other arguments is a new call), else new.</summary>
    public static string IdempotencyKey(string tool, BuiltinToolCall call)
    {
        if (string.IsNullOrEmpty(call.CallId))
        {
            return "qlaud-" + tool + "-" + Guid.NewGuid().ToString("N");
        }

        string arguments = call.Arguments.ValueKind == JsonValueKind.Undefined ? "" : call.Arguments.GetRawText();
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(call.Caller.AccountId + "\n" + call.CallId + "\n" + arguments));
        return "qlaud-" + tool + "-" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    /// <summary>A JSON request body written with <paramref name="write"/>.</summary>
    public static ByteArrayContent JsonContent(Action<Utf8JsonWriter> write, string mediaType = "application/json")
    {
        var content = new ByteArrayContent(JsonBytes(write));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return content;
    }

    /// <summary>A compact JSON text written with <paramref name="write"/>.</summary>
    public static string Json(Action<Utf8JsonWriter> write) => Encoding.UTF8.GetString(JsonBytes(write));

    private static byte[] JsonBytes(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Sends <paramref name="request"/> through <paramref name="client"/> within <paramref name="timeoutSeconds"/> (30 when
    /// it is not a positive number, at most an hour) and reads the answer. Timeouts, unreachable vendors and oversized answers come back as <see cref="VendorReply.Failure"/>;
    /// only cancellation of <paramref name="cancellationToken"/> propagates.</summary>
    public static async Task<VendorReply> SendAsync(HttpClient client, HttpRequestMessage request, double timeoutSeconds, string vendor, CancellationToken cancellationToken)
    {
        timeoutSeconds = double.IsFinite(timeoutSeconds) && timeoutSeconds > 0 ? Math.Min(timeoutSeconds, 3600) : 30;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength > MaxResponseBytes)
            {
                return VendorReply.Failed($"{vendor}'s answer was larger than {MaxResponseBytes / (1024 * 1024)} MiB.");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var buffer = new MemoryStream();
            byte[] chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > MaxResponseBytes)
                    {
                        return VendorReply.Failed($"{vendor}'s answer was larger than {MaxResponseBytes / (1024 * 1024)} MiB.");
                    }

                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            return new VendorReply((int)response.StatusCode, Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), response.Headers, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return VendorReply.Failed($"{vendor} did not answer within {timeoutSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s; try again later.");
        }
        catch (Polly.Timeout.TimeoutRejectedException)
        {
            return VendorReply.Failed($"{vendor} did not answer in time; try again later.");
        }
        catch (HttpRequestException ex)
        {
            return VendorReply.Failed($"{vendor} could not be reached ({ex.HttpRequestError}); try again later.");
        }
    }

    /// <summary>The error for a vendor answer that is not a success: 401 names the operator's key, 429 the wait the vendor asked
    /// for, 5xx a vendor failure; <paramref name="detail"/> (the vendor's own message, shortened) is quoted.</summary>
    public static BuiltinToolResult StatusError(string vendor, VendorReply reply, string? detail, TimeProvider timeProvider)
    {
        string quoted = Quote(detail);
        return reply.Status switch
        {
            401 => BuiltinToolResult.Error($"The operator's {vendor} key was refused{quoted}. This tool cannot be used until the operator fixes it."),
            429 => RateLimited(vendor, reply.RetryAfterSeconds(timeProvider)),
            >= 500 => BuiltinToolResult.Error($"{vendor} failed (HTTP {reply.Status}){quoted}; try again later."),
            _ => BuiltinToolResult.Error($"{vendor} refused the request (HTTP {reply.Status}){quoted}."),
        };
    }

    /// <summary>The error for a call the vendor rate limited.</summary>
    public static BuiltinToolResult RateLimited(string vendor, long? retryAfterSeconds)
        => BuiltinToolResult.Error(retryAfterSeconds is { } seconds
            ? $"{vendor} rate limited the call; retry after {seconds} s."
            : $"{vendor} rate limited the call; retry later.");

    /// <summary><c>": text"</c> for a vendor message, shortened; empty without one.</summary>
    public static string Quote(string? detail)
    {
        if (string.IsNullOrWhiteSpace(detail))
        {
            return "";
        }

        string text = detail.Trim().ReplaceLineEndings(" ");
        return ": " + (text.Length <= MaxDetailChars ? text : text[..MaxDetailChars] + "…");
    }

    /// <summary>The string property <paramref name="name"/> of a JSON object text, or null (also when the text is not JSON).</summary>
    public static string? JsonString(string body, string name)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Logs a vendor call that failed (no answer: status 0); never the key or the arguments.</summary>
    [LoggerMessage(Level = LogLevel.Warning, Message = "Builtin {Tool}: the vendor call failed with HTTP {Status} (0: no answer).")]
    public static partial void LogFailed(ILogger logger, string tool, int status);

    /// <summary>Logs a vendor's refusal given in a successful answer (Slack's <c>ok:false</c>, GraphQL errors).</summary>
    [LoggerMessage(Level = LogLevel.Information, Message = "Builtin {Tool}: the vendor refused the call ({Code}).")]
    public static partial void LogRefused(ILogger logger, string tool, string code);

    /// <summary>Writes <paramref name="value"/> as a string property when it is not null.</summary>
    public static void WriteOptional(this Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    /// <summary>The strings of an argument that is a string or an array of strings (empty strings dropped); null when it is neither.</summary>
    public static List<string>? Strings(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return string.IsNullOrWhiteSpace(value.GetString()) ? [] : [value.GetString()!.Trim()];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var list = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            if (!string.IsNullOrWhiteSpace(item.GetString()))
            {
                list.Add(item.GetString()!.Trim());
            }
        }

        return list;
    }
}

/// <summary>A vendor's answer: its status, body and headers, or why there is none (<see cref="Failure"/>).</summary>
/// <param name="Status">The HTTP status (0 when there is no answer).</param>
/// <param name="Body">The body as text.</param>
/// <param name="Headers">The response headers (null when there is no answer).</param>
/// <param name="Failure">Why there is no answer (timeout, unreachable, too large), as text for the model.</param>
internal sealed record VendorReply(int Status, string Body, HttpResponseHeaders? Headers, string? Failure)
{
    /// <summary>Whether the vendor answered 2xx.</summary>
    public bool IsSuccess => Failure is null && Status is >= 200 and < 300;

    /// <summary>No answer, for the reason given.</summary>
    public static VendorReply Failed(string failure) => new(0, "", null, failure);

    /// <summary>A response header's first value, or null.</summary>
    public string? Header(string name) => Headers is not null && Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>The wait in whole seconds the vendor asked for with <c>Retry-After</c> (seconds or an HTTP date), or null.</summary>
    public long? RetryAfterSeconds(TimeProvider timeProvider)
    {
        if (Headers?.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        if (retryAfter.Delta is { } delta)
        {
            return (long)Math.Ceiling(delta.TotalSeconds);
        }

        return retryAfter.Date is { } date ? Math.Max(0, (long)Math.Ceiling((date - timeProvider.GetUtcNow()).TotalSeconds)) : null;
    }
}
