using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Primitives;

namespace Qlaud.FakeProvider;

/// <summary>HTTP constants shared by both dialects.</summary>
internal static class FakeHttp
{
    public const string JsonContentType = "application/json";

    /// <summary>Providers send non-ASCII text unescaped; so does the fake.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly StringValues s_eventStream = new("text/event-stream; charset=utf-8");
    private static readonly StringValues s_noCache = new("no-cache");

    public static void SetEventStreamHeaders(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentType = s_eventStream;
        headers.CacheControl = s_noCache;
    }

    public static void AddHeaders(HttpResponse response, IReadOnlyDictionary<string, string>? extra)
    {
        if (extra is null)
        {
            return;
        }

        foreach (var (name, value) in extra)
        {
            response.Headers[name] = value;
        }
    }

    public static async ValueTask<bool> WriteJsonAsync(HttpContext http, int status, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var response = http.Response;
        response.StatusCode = status;
        response.ContentType = JsonContentType;
        response.ContentLength = body.Length;
        var result = await response.BodyWriter.WriteAsync(body, cancellationToken);
        return !result.IsCompleted && !result.IsCanceled;
    }
}
