using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Dialects;

namespace Qlaud.AspNetCore;

/// <summary>Shared pieces of the account endpoints (keys, wallet, usage, accounts): errors, JSON in and out.</summary>
/// <remarks>Errors use the OpenAI envelope <c>{"error":{"message","type","param","code"}}</c> with the matching status,
/// like the rest of <c>/v1</c>, so one client-side error path handles every endpoint.</remarks>
internal static class AdminHttp
{
    /// <summary>The largest body an account endpoint reads (their bodies are small JSON objects).</summary>
    public const int MaxBody = 64 * 1024;

    public static IChatDialect Errors { get; } = DialectRegistry.Get("openai");

    public static Task ForbiddenAsync(HttpContext context, string message)
        => QlaudHttp.WriteErrorAsync(context, Errors, new QlaudError(QlaudErrorKind.Permission, message, "insufficient_permissions"));

    public static Task BadRequestAsync(HttpContext context, string message, string? code = null)
        => QlaudHttp.WriteErrorAsync(context, Errors, new QlaudError(QlaudErrorKind.InvalidRequest, message, code));

    public static Task NotFoundAsync(HttpContext context, string message)
        => QlaudHttp.WriteErrorAsync(context, Errors, new QlaudError(QlaudErrorKind.NotFound, message, "not_found"));

    /// <summary>Reads a JSON object body; writes the 400 and returns null when the body is not one.</summary>
    public static async ValueTask<JsonDocument?> ReadObjectAsync(HttpContext context)
    {
        var (body, error) = await QlaudHttp.ReadBodyAsync(context.Request, MaxBody, context.RequestAborted).ConfigureAwait(false);
        if (error is not null)
        {
            await QlaudHttp.WriteErrorAsync(context, Errors, error).ConfigureAwait(false);
            return null;
        }

        using (body)
        {
            try
            {
                var document = JsonDocument.Parse(body!.WrittenMemory);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    return document;
                }

                document.Dispose();
            }
            catch (JsonException)
            {
                // Answered below.
            }

            await BadRequestAsync(context, "The request body must be a JSON object.").ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Writes a JSON response rendered by <paramref name="write"/>.</summary>
    public static async Task WriteJsonAsync<TState>(HttpContext context, int status, TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, state);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Converts a USD amount to micro-USD; false when it has more than 6 decimals or is out of range.</summary>
    public static bool TryMicros(decimal usd, out long micros)
    {
        micros = 0;
        if (Math.Abs(usd) > 1_000_000_000m || decimal.Round(usd, 6) != usd)
        {
            return false;
        }

        micros = (long)(usd * 1_000_000m);
        return true;
    }

    /// <summary>A timestamp from an ISO 8601 string or Unix seconds.</summary>
    public static bool TryReadTime(JsonElement value, out long? unixMs)
    {
        unixMs = null;
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return true;
            case JsonValueKind.Number when value.TryGetInt64(out long seconds) && seconds is > 0 and < 100_000_000_000:
                unixMs = seconds * 1000;
                return true;
            case JsonValueKind.String when DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time):
                unixMs = time.ToUnixTimeMilliseconds();
                return true;
            default:
                return false;
        }
    }

    public static void WriteTime(Utf8JsonWriter writer, string name, long? unixMs)
    {
        if (unixMs is { } ms)
        {
            writer.WriteString(name, DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    public static void WriteUsd(Utf8JsonWriter writer, string name, long? micros)
    {
        if (micros is { } m)
        {
            writer.WriteNumber(name, m / 1_000_000m);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    public static void WriteNumberOrNull(Utf8JsonWriter writer, string name, long? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    /// <summary>An OpenAI-style cursor page: <c>{"object":"list","data":[…],"first_id","last_id","has_more"}</c>.</summary>
    public static void WriteList<T>(Utf8JsonWriter writer, Qlaud.Threads.QlaudPage<T> page, Action<Utf8JsonWriter, T> item)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var entry in page.Data)
        {
            item(writer, entry);
        }

        writer.WriteEndArray();
        writer.WriteString("first_id", page.FirstId);
        writer.WriteString("last_id", page.LastId);
        writer.WriteBoolean("has_more", page.HasMore);
        writer.WriteEndObject();
    }
}
