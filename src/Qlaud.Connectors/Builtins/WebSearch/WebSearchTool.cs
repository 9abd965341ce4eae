using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.WebSearch;

/// <summary>The <c>web_search</c> builtin: a web search through the Brave Search API (<c>GET /res/v1/web/search</c>) or Tavily
/// (<c>POST /search</c>), answered as <c>{"results":[{"title","url","snippet"}]}</c>.</summary>
internal sealed partial class WebSearchTool : BuiltinTool
{
    /// <summary>The tool's name and configuration section.</summary>
    public const string ToolName = "web_search";

    /// <summary>Brave Search API, Search plan: $5 per 1,000 requests.</summary>
    internal const long BravePriceMicros = 5_000;

    /// <summary>Tavily, a basic search: 1 API credit at $0.008 (pay as you go).</summary>
    internal const long TavilyPriceMicros = 8_000;

    internal const string BraveDefaultBaseUrl = "https://api.search.brave.com";
    internal const string TavilyDefaultBaseUrl = "https://api.tavily.com";

    private const int DefaultCount = 5;
    private const int MaxCount = 20;

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {
          "type": "object",
          "properties": {
            "query": { "type": "string", "description": "The search terms, as you would type them into a search engine (at most 400 characters)." },
            "count": { "type": "integer", "minimum": 1, "maximum": 20, "description": "How many results to return (default 5)." }
          },
          "required": ["query"],
          "additionalProperties": false
        }
        """);

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IHttpClientFactory _httpClients;
    private readonly WebSearchOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Backend _backend;
    private readonly string? _key;
    private readonly Uri _baseUri;

    public WebSearchTool(IHttpClientFactory httpClients, IOptions<WebSearchOptions> options, IConfiguration configuration, TimeProvider time, ILogger<WebSearchTool> logger)
    {
        _httpClients = httpClients;
        _options = options.Value;
        _time = time;
        _logger = logger;
        string? braveKey = NonEmpty(_options.ApiKey) ?? NonEmpty(configuration["BRAVE_API_KEY"]);
        string? tavilyKey = NonEmpty(_options.TavilyApiKey) ?? NonEmpty(configuration["TAVILY_API_KEY"]);
        _backend = NonEmpty(_options.Backend)?.ToLowerInvariant() switch
        {
            "brave" => Backend.Brave,
            "tavily" => Backend.Tavily,
            _ => braveKey is not null ? Backend.Brave : tavilyKey is not null ? Backend.Tavily : Backend.Brave,
        };
        _key = _backend == Backend.Brave ? braveKey : tavilyKey;
        string baseUrl = (_backend == Backend.Brave ? NonEmpty(_options.BaseUrl) ?? BraveDefaultBaseUrl : NonEmpty(_options.TavilyBaseUrl) ?? TavilyDefaultBaseUrl).TrimEnd('/');
        _baseUri = new Uri(baseUrl + "/");
    }

    private enum Backend
    {
        Brave,
        Tavily,
    }

    public override string Name => ToolName;

    public override string Description =>
        "Search the web. Returns the top results as {\"results\":[{\"title\",\"url\",\"snippet\"}]}; read a result's page with web_fetch when the snippet is not enough.";

    public override JsonElement InputSchema => Schema;

    public override bool IsAvailable => _options.Enabled && _key is not null;

    public override long PriceMicros => BuiltinRegistration.Price(_options, _backend == Backend.Brave ? BravePriceMicros : TavilyPriceMicros);

    private string Vendor => _backend == Backend.Brave ? "Brave" : "Tavily";

    /// <summary>Registers the tool, its options and their start-up validation.</summary>
    public static void Register(IServiceCollection services)
    {
        BuiltinRegistration.AddBuiltin<WebSearchTool, WebSearchOptions>(services, ToolName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebSearchOptions>, WebSearchOptionsValidator>());
        services.AddOptions<WebSearchOptions>().ValidateOnStart();
    }

    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (_key is null)
        {
            return BuiltinToolResult.Error($"web_search is not configured: the operator has no {Vendor} key.");
        }

        string? query = call.String("query")?.Trim();
        if (string.IsNullOrEmpty(query))
        {
            return BuiltinToolResult.Error("query is required: the search terms, as a string.");
        }

        if (_backend == Backend.Brave && (query.Length > 400 || query.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length > 50))
        {
            return BuiltinToolResult.Error("query is too long: at most 400 characters and 50 words. Search with fewer, more specific terms.");
        }

        var countArgument = call.Get("count");
        int count = DefaultCount;
        if (countArgument.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            if (call.Integer("count") is not { } requested)
            {
                return BuiltinToolResult.Error("count must be an integer from 1 to 20.");
            }

            count = (int)Math.Clamp(requested, 1, MaxCount);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        try
        {
            using var request = _backend == Backend.Brave ? BraveRequest(query, count) : TavilyRequest(query, count);
            using var response = await _httpClients.CreateClient(BuiltinRegistration.HttpClientName(ToolName))
                .SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            byte[] body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return Failure(response, body);
            }

            var hits = _backend == Backend.Brave ? ParseBrave(body) : ParseTavily(body);
            return hits is null
                ? BuiltinToolResult.Error($"{Vendor} answered with a response web_search could not read; try again.")
                : BuiltinToolResult.Ok(Write(hits, count));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return BuiltinToolResult.Error($"{Vendor} did not answer within {_options.TimeoutSeconds:0.#} s; try again later.");
        }
        catch (TimeoutRejectedException)
        {
            return BuiltinToolResult.Error($"{Vendor} did not answer in time; try again later.");
        }
        catch (BrokenCircuitException)
        {
            return BuiltinToolResult.Error($"{Vendor} has been failing; web search is unavailable for now, try again later.");
        }
        catch (HttpRequestException e)
        {
            Log.Unreachable(_logger, Vendor, e.Message);
            return BuiltinToolResult.Error($"web_search could not reach {Vendor}; try again later.");
        }
    }

    private HttpRequestMessage BraveRequest(string query, int count)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUri, $"res/v1/web/search?q={Uri.EscapeDataString(query)}&count={count}"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.TryAddWithoutValidation("X-Subscription-Token", _key);
        return request;
    }

    private HttpRequestMessage TavilyRequest(string query, int count)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseUri, "search"))
        {
            Content = JsonContent(new TavilySearchRequest(query, count, "basic")),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        return request;
    }

    private static ByteArrayContent JsonContent(TavilySearchRequest body)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, WebSearchJsonContext.Default.TavilySearchRequest));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static List<Hit>? ParseBrave(byte[] body)
    {
        BraveSearchResponse? response;
        try
        {
            response = JsonSerializer.Deserialize(body, WebSearchJsonContext.Default.BraveSearchResponse);
        }
        catch (JsonException)
        {
            return null;
        }

        if (response is null)
        {
            return null;
        }

        List<Hit> hits = [];
        foreach (var result in response.Web?.Results ?? [])
        {
            if (result.Url is not null)
            {
                hits.Add(new Hit(PlainText(result.Title), result.Url, PlainText(result.Description)));
            }
        }

        return hits;
    }

    private static List<Hit>? ParseTavily(byte[] body)
    {
        TavilySearchResponse? response;
        try
        {
            response = JsonSerializer.Deserialize(body, WebSearchJsonContext.Default.TavilySearchResponse);
        }
        catch (JsonException)
        {
            return null;
        }

        if (response?.Results is null)
        {
            return null;
        }

        List<Hit> hits = [];
        foreach (var result in response.Results)
        {
            if (result.Url is not null)
            {
                hits.Add(new Hit(result.Title ?? "", result.Url, result.Content ?? ""));
            }
        }

        return hits;
    }

    private static string Write(List<Hit> hits, int count)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("results");
            for (int i = 0; i < hits.Count && i < count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("title", hits[i].Title);
                writer.WriteString("url", hits[i].Url);
                writer.WriteString("snippet", hits[i].Snippet);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private BuiltinToolResult Failure(HttpResponseMessage response, byte[] body)
    {
        int status = (int)response.StatusCode;
        string? detail = ErrorDetail(body);
        string withDetail = detail is null ? $"HTTP {status}" : $"HTTP {status}: {detail}";
        switch (response.StatusCode)
        {
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                Log.KeyRefused(_logger, Vendor, status);
                return BuiltinToolResult.Error($"web_search is unavailable: the operator's {Vendor} key was refused ({withDetail}). Do not retry; answer without web search.");
            case HttpStatusCode.TooManyRequests:
                return BuiltinToolResult.Error(RetryAfterSeconds(response) is { } seconds
                    ? $"{Vendor} rate limited the search; retry after {seconds} s."
                    : $"{Vendor} rate limited the search; retry later.");
            case (HttpStatusCode)432 or (HttpStatusCode)433 when _backend == Backend.Tavily:
                Log.KeyRefused(_logger, Vendor, status);
                return BuiltinToolResult.Error($"web_search is unavailable: the operator's Tavily plan limit is reached ({withDetail}). Do not retry; answer without web search.");
        }

        return status >= 500
            ? BuiltinToolResult.Error($"{Vendor} failed ({withDetail}); try again later.")
            : BuiltinToolResult.Error($"{Vendor} refused the search ({withDetail}).");
    }

    private int? RetryAfterSeconds(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            var delay = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - _time.GetUtcNow() : null);
            if (delay is { } d)
            {
                return (int)Math.Max(1, Math.Ceiling(d.TotalSeconds));
            }
        }

        // Brave: "X-RateLimit-Reset: 1, 1419704" — seconds until the per-second and the monthly quota reset.
        if (response.Headers.TryGetValues("X-RateLimit-Reset", out var values)
            && int.TryParse(values.First().Split(',')[0].Trim(), System.Globalization.CultureInfo.InvariantCulture, out int reset))
        {
            return Math.Max(1, reset);
        }

        return null;
    }

    /// <summary>The vendor's error message: Brave's <c>error.detail</c>, Tavily's <c>detail.error</c> (or a plain <c>detail</c>).</summary>
    private static string? ErrorDetail(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? detail = null;
            if (root.TryGetProperty("error", out var error))
            {
                detail = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()
                    : error.ValueKind == JsonValueKind.String ? error.GetString() : null;
            }
            else if (root.TryGetProperty("detail", out var tavily))
            {
                detail = tavily.ValueKind == JsonValueKind.Object && tavily.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()
                    : tavily.ValueKind == JsonValueKind.String ? tavily.GetString() : null;
            }

            return detail is { Length: > 300 } ? detail[..300] : detail;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Brave's titles and descriptions are HTML fragments (<c>&lt;strong&gt;</c> around matched words, entities).</summary>
    private static string PlainText(string? html) => html is null ? "" : WebUtility.HtmlDecode(Tags().Replace(html, ""));

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    [GeneratedRegex("<[^>]*>")]
    private static partial Regex Tags();

    private readonly record struct Hit(string Title, string Url, string Snippet);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "web_search: {Vendor} refused the operator's key (HTTP {Status})")]
        public static partial void KeyRefused(ILogger logger, string vendor, int status);

        [LoggerMessage(2, LogLevel.Warning, "web_search: {Vendor} could not be reached: {Reason}")]
        public static partial void Unreachable(ILogger logger, string vendor, string reason);
    }
}
