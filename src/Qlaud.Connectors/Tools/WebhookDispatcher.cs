using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tools;

/// <summary>Delivers a model's call of a webhook tool to the app's URL: a signed JSON POST, retried on transient failures with
/// the same idempotency key, answered by the response body.</summary>
/// <remarks>
/// <para>The body is <c>{"id", "object": "tool.call", "tool", "end_user_id", "arguments", "created"}</c>. The
/// <c>Qlaud-Signature</c> header is <c>t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{body}" keyed by the signing secret}</c>,
/// Stripe's scheme; <c>Idempotency-Key</c> is the call's id, the same on every retry.</para>
/// <para>The URL is checked against private networks again at every call (<c>Qlaud:Connectors:AllowPrivateNetworks</c>).
/// The whole call, retries included, is bounded by <c>Qlaud:Connectors:ToolCallTimeoutSeconds</c>.</para>
/// </remarks>
internal sealed class WebhookDispatcher(IHttpClientFactory httpClients, IOptions<ConnectorsOptions> options, TimeProvider time, Builtins.WebFetch.IHostResolver resolver)
{
    /// <summary>The name of the webhook tools' <see cref="HttpClient"/>.</summary>
    public const string HttpClientName = "qlaud.webhook-tools";

    /// <summary>The signature header.</summary>
    public const string SignatureHeader = "Qlaud-Signature";

    private const int MaxResponseBytes = 1 << 20;

    public async Task<(bool Failed, string Text)> CallAsync(WebhookToolEntity tool, string secret, QlaudCaller caller, JsonElement arguments, string? callId,
        CancellationToken cancellationToken)
    {
        var url = new Uri(tool.Url);
        if (await SsrfGuard.CheckAsync(url, options.Value.AllowPrivateNetworks, cancellationToken, resolver.ResolveAsync).ConfigureAwait(false) is { } refused)
        {
            return (true, $"The tool {tool.Name} cannot be called: its URL {refused}.");
        }

        string id = callId ?? "call_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        long now = time.GetUtcNow().ToUnixTimeSeconds();
        byte[] body = Body(tool, caller, arguments, id, now);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(secret, now, body));
        request.Headers.TryAddWithoutValidation("Idempotency-Key", id);
        request.Headers.UserAgent.ParseAdd("Qlaud-Webhook-Tools/1.0");

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.ToolCallTimeoutSeconds));
        try
        {
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            string text = await ReadAsync(response, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (true, $"The tool {tool.Name} answered HTTP {(int)response.StatusCode}: {(text.Length > 2000 ? text[..2000] : text)}");
            }

            return (false, text);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (true, $"The tool {tool.Name} did not answer within {options.Value.ToolCallTimeoutSeconds:0} seconds.");
        }
        catch (HttpRequestException ex) when (ex.InnerException is SsrfRefusedException || ex.InnerException?.InnerException is SsrfRefusedException)
        {
            return (true, $"The tool {tool.Name} cannot be called: its host now resolves into a private or loopback network.");
        }
        catch (HttpRequestException ex)
        {
            return (true, $"The tool {tool.Name} could not be reached: {ex.Message}");
        }
    }

    /// <summary>The <c>Qlaud-Signature</c> value for <paramref name="body"/> sent at <paramref name="unixSeconds"/>.</summary>
    public static string Sign(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        string t = unixSeconds.ToString(CultureInfo.InvariantCulture);
        byte[] signed = new byte[t.Length + 1 + body.Length];
        Encoding.ASCII.GetBytes(t, signed);
        signed[t.Length] = (byte)'.';
        body.CopyTo(signed.AsSpan(t.Length + 1));
        byte[] mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }

    private static byte[] Body(WebhookToolEntity tool, QlaudCaller caller, JsonElement arguments, string id, long now)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "tool.call");
            w.WriteString("tool", tool.Name);
            if (caller.EndUserId is { } endUser)
            {
                w.WriteString("end_user_id", endUser);
            }
            else
            {
                w.WriteNull("end_user_id");
            }

            w.WritePropertyName("arguments");
            if (arguments.ValueKind == JsonValueKind.Object)
            {
                arguments.WriteTo(w);
            }
            else
            {
                w.WriteStartObject();
                w.WriteEndObject();
            }

            w.WriteNumber("created", now);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[MaxResponseBytes + 1];
        int read = 0, n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
        {
            read += n;
        }

        string text = Encoding.UTF8.GetString(buffer, 0, Math.Min(read, MaxResponseBytes));
        return read > MaxResponseBytes ? text + "\n[Truncated by Qlaud: the response was longer than 1 MiB.]" : text;
    }
}
