using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.ServerSentEvents;
using System.Text;
using Anthropic;
using Anthropic.Core;
using OpenAI;
using OpenAI.Chat;

namespace Qlaud.FakeProvider.Tests;

/// <summary>Official SDK clients and a raw HTTP client pointed at a fake provider, with retries off.</summary>
internal static class TestClients
{
    public const string Model = "fake-model-test";

    public static OpenAIClientOptions OpenAIOptions(FakeProviderServer fake) => new()
    {
        Endpoint = fake.OpenAIBaseUri,
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
    };

    public static ChatClient OpenAIChat(FakeProviderServer fake, string model = Model)
        => new(model, new ApiKeyCredential("k"), OpenAIOptions(fake));

    public static AnthropicClient Anthropic(FakeProviderServer fake) => new(new ClientOptions
    {
        ApiKey = "k",
        BaseUrl = fake.BaseUri.ToString(),
        MaxRetries = 0,

        // Strict: every response is checked against the SDK's full schema, not just the parts a test reads.
        ResponseValidation = true,
    });

    /// <summary>
    /// A raw HTTP client. Disposing an unfinished response closes its connection at once: by default the handler
    /// would first drain up to 1 MB for up to 2 s to reuse the connection, so a "disconnect" mid-stream could
    /// instead read a short stream to its end.
    /// </summary>
    public static HttpClient Raw(FakeProviderServer fake)
        => new(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = fake.BaseUri };

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>POSTs JSON and returns as soon as the response headers arrive (the body is read by the caller).</summary>
    public static async Task<HttpResponseMessage> PostStreamingAsync(HttpClient http, string path, string json, CancellationToken cancellationToken = default, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    public static async Task<List<SseItem<string>>> ReadEventsAsync(HttpResponseMessage response, CancellationToken cancellationToken = default)
    {
        using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var events = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            events.Add(item);
        }

        return events;
    }
}
