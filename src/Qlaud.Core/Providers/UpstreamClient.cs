using System.Collections.Frozen;
using System.Net;
using System.Net.Http.Headers;
using Qlaud.Catalog;

namespace Qlaud.Providers;

/// <summary>Sends requests to providers: one pooled <see cref="HttpClient"/> per provider, auth and headers applied.</summary>
/// <remarks>
/// Providers are configuration, not code: an OpenAI-dialect provider gets <c>Authorization: Bearer</c> and the path
/// <c>/chat/completions</c> (and <c>/embeddings</c>); an Anthropic-dialect provider gets <c>x-api-key</c>, <c>anthropic-version</c>
/// and <c>/v1/messages</c>.
/// </remarks>
internal sealed class UpstreamClient
{
    /// <summary>The <c>anthropic-version</c> sent when the client sent none.</summary>
    public const string DefaultAnthropicVersion = "2023-06-01";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly FrozenDictionary<string, Endpoint> _endpoints;

    public UpstreamClient(ModelCatalog catalog, IHttpClientFactory httpClientFactory)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        var endpoints = new Dictionary<string, Endpoint>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in catalog.Providers.Values)
        {
            var client = httpClientFactory.CreateClient(provider.Name == CatalogBuilder.EchoProvider
                ? Microsoft.Extensions.DependencyInjection.QlaudServiceCollectionExtensions.EchoHttpClient
                : Microsoft.Extensions.DependencyInjection.QlaudServiceCollectionExtensions.UpstreamHttpClient);
            client.Timeout = Timeout.InfiniteTimeSpan; // time to headers is enforced per attempt; a stream may run long
            bool anthropic = provider.Dialect == "anthropic";
            string baseUrl = provider.BaseUrl.AbsoluteUri.TrimEnd('/');
            var chat = new Uri(anthropic ? baseUrl + "/v1/messages" : baseUrl + "/chat/completions");
            var countTokens = new Uri(baseUrl + "/v1/messages/count_tokens");
            var embeddings = new Uri(baseUrl + "/embeddings");
            var images = new Uri(baseUrl + "/images/generations");
            endpoints[provider.Name] = new Endpoint(provider, client, chat, countTokens, embeddings, images, anthropic,
                !anthropic && provider.ApiKey is { } key ? new AuthenticationHeaderValue("Bearer", key) : null);
        }

        _endpoints = endpoints.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Sends a chat request body to <paramref name="route"/>'s provider and returns once response headers arrived.
    /// Transport failures and the first-byte timeout (armed on <paramref name="deadline"/>) come back as an
    /// <see cref="UpstreamFailure"/> value, not an exception; the caller's cancellation throws.
    /// </summary>
    public ValueTask<UpstreamResult> SendChatAsync(CatalogRoute route, ReadOnlyMemory<byte> body, ForwardedHeaders forwarded, bool countTokens, UpstreamDeadline deadline)
    {
        var endpoint = _endpoints[route.Provider.Name];
        return SendAsync(route, endpoint, countTokens ? endpoint.CountTokensUri : endpoint.ChatUri, body, forwarded, deadline);
    }

    /// <summary>
    /// Sends an OpenAI embeddings request body to <paramref name="route"/>'s provider (<c>POST {BaseUrl}/embeddings</c>), with
    /// the same transport contract as <see cref="SendChatAsync"/>. Embedding routes are OpenAI-dialect by catalog validation.
    /// </summary>
    public ValueTask<UpstreamResult> SendEmbeddingsAsync(CatalogRoute route, ReadOnlyMemory<byte> body, UpstreamDeadline deadline)
    {
        var endpoint = _endpoints[route.Provider.Name];
        return SendAsync(route, endpoint, endpoint.EmbeddingsUri, body, default, deadline);
    }

    /// <summary>
    /// Sends an OpenAI image generation request body to <paramref name="route"/>'s provider (<c>POST {BaseUrl}/images/generations</c>),
    /// with the same transport contract as <see cref="SendChatAsync"/>. Image routes are OpenAI-dialect by catalog validation.
    /// </summary>
    public ValueTask<UpstreamResult> SendImagesAsync(CatalogRoute route, ReadOnlyMemory<byte> body, UpstreamDeadline deadline)
    {
        var endpoint = _endpoints[route.Provider.Name];
        return SendAsync(route, endpoint, endpoint.ImagesUri, body, default, deadline);
    }

    private static async ValueTask<UpstreamResult> SendAsync(CatalogRoute route, Endpoint endpoint, Uri uri, ReadOnlyMemory<byte> body, ForwardedHeaders forwarded, UpstreamDeadline deadline)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version11,
            Content = new ReadOnlyMemoryContent(body),
        };
        request.Content.Headers.ContentType = JsonContentType;
        if (endpoint.Anthropic)
        {
            if (route.Provider.ApiKey is { } key)
            {
                request.Headers.TryAddWithoutValidation("x-api-key", key);
            }

            request.Headers.TryAddWithoutValidation("anthropic-version", forwarded.AnthropicVersion ?? DefaultAnthropicVersion);
            if (forwarded.AnthropicBeta is { } beta)
            {
                request.Headers.TryAddWithoutValidation("anthropic-beta", beta);
            }
        }
        else if (endpoint.Authorization is { } authorization)
        {
            request.Headers.Authorization = authorization;
        }

        foreach (var (name, value) in route.Provider.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        deadline.Arm(route.Provider.Timeout);
        try
        {
            var response = await endpoint.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            return new UpstreamResult(response, request, null);
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            request.Dispose();
            return new UpstreamResult(null, null, new UpstreamFailure(QlaudErrorKind.Timeout,
                $"The provider '{route.Provider.Name}' did not answer within {route.Provider.Timeout.TotalSeconds:0.###} s.", "timeout"));
        }
        catch (HttpRequestException ex) when (!deadline.CallerCancelled)
        {
            request.Dispose();
            bool connectTimeout = ex.InnerException is TimeoutException;
            return new UpstreamResult(null, null, new UpstreamFailure(connectTimeout ? QlaudErrorKind.Timeout : QlaudErrorKind.UpstreamError,
                $"The provider '{route.Provider.Name}' could not be reached: {Describe(ex)}", connectTimeout ? "connect_timeout" : "connection_error"));
        }
        catch
        {
            request.Dispose();
            throw;
        }
    }

    // The message names the failure, never the request's headers (which hold the provider key).
    private static string Describe(HttpRequestException ex) => ex.InnerException is TimeoutException timeout ? timeout.Message : ex.HttpRequestError switch
    {
        HttpRequestError.ConnectionError => "connection refused or reset.",
        HttpRequestError.NameResolutionError => "its host name did not resolve.",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed.",
        HttpRequestError.ResponseEnded => "the connection closed before a response arrived.",
        HttpRequestError.InvalidResponse => "it sent an invalid HTTP response.",
        _ => (ex.InnerException?.Message ?? ex.Message).TrimEnd('.') + ".",
    };

    private sealed record Endpoint(CatalogProvider Provider, HttpClient Client, Uri ChatUri, Uri CountTokensUri, Uri EmbeddingsUri, Uri ImagesUri, bool Anthropic, AuthenticationHeaderValue? Authorization);
}

/// <summary>Client headers that travel to the upstream: Anthropic's version and beta flags, as the client sent them.</summary>
/// <param name="AnthropicVersion">The client's <c>anthropic-version</c>.</param>
/// <param name="AnthropicBeta">The client's <c>anthropic-beta</c>.</param>
internal readonly record struct ForwardedHeaders(string? AnthropicVersion, string? AnthropicBeta);

/// <summary>A transport-level failure: no response from the upstream.</summary>
/// <param name="Kind">Timeout or upstream error.</param>
/// <param name="Message">What happened, without secrets.</param>
/// <param name="ErrorType">The span's <c>error.type</c>: <c>timeout</c>, <c>connect_timeout</c> or <c>connection_error</c>.</param>
internal sealed record UpstreamFailure(QlaudErrorKind Kind, string Message, string ErrorType);

/// <summary>Either a response (whose headers arrived) or a failure.</summary>
internal readonly record struct UpstreamResult(HttpResponseMessage? Response, HttpRequestMessage? Request, UpstreamFailure? Failure) : IDisposable
{
    public void Dispose()
    {
        Response?.Dispose();
        Request?.Dispose();
    }
}
