using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using AngleSharp.Html.Dom;
using AngleSharp.Html.Parser;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly.Timeout;
using Qlaud.Connectors.Tools;
using SmartReader;

namespace Qlaud.Connectors.Builtins.WebFetch;

/// <summary>The <c>web_fetch</c> builtin: reads one web page and answers its readable text — HTML as Markdown (the article
/// Readability finds, else the page body), plain text and JSON as they are — as
/// <c>{"url","title","content_type","content","truncated"}</c>.</summary>
/// <remarks>Connections are opened by <see cref="SsrfGuard.ConnectAsync"/>, which resolves the host, refuses private addresses
/// and connects to the address it checked; redirects are followed here, one request per hop, so each hop is checked the same way.</remarks>
internal sealed partial class WebFetchTool : BuiltinTool
{
    /// <summary>The tool's name and configuration section.</summary>
    public const string ToolName = "web_fetch";

    /// <summary>Pages with more elements than this skip Readability (whose cost grows faster than the page) and are read whole.</summary>
    internal const int ReadabilityMaxElements = 5_000;

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {
          "type": "object",
          "properties": {
            "url": { "type": "string", "description": "The absolute http or https URL of the page to read." },
            "max_chars": { "type": "integer", "minimum": 100, "description": "Most characters of text to return (the gateway's limit applies)." }
          },
          "required": ["url"],
          "additionalProperties": false
        }
        """);

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IHttpClientFactory _httpClients;
    private readonly WebFetchOptions _options;
    private readonly ILogger _logger;

    public WebFetchTool(IHttpClientFactory httpClients, IOptions<WebFetchOptions> options, ILogger<WebFetchTool> logger)
    {
        _httpClients = httpClients;
        _options = options.Value;
        _logger = logger;
    }

    public override string Name => ToolName;

    public override string Description =>
        "Read a web page: returns its main text as Markdown (HTML), or the text of a plain-text or JSON document, as "
        + "{\"url\",\"title\",\"content_type\",\"content\",\"truncated\"}. Only public http(s) addresses; other content types are refused.";

    public override JsonElement InputSchema => Schema;

    public override bool IsAvailable => _options.Enabled;

    public override long PriceMicros => BuiltinRegistration.Price(_options, 0);

    /// <summary>Registers the tool, its guarded HTTP client, its options and their start-up validation.</summary>
    public static void Register(IServiceCollection services)
    {
        BuiltinRegistration.AddBuiltin<WebFetchTool, WebFetchOptions>(services, ToolName, static o =>
        {
            // Pages are not a vendor API: a failing site is the model's to judge (no retries), and one failing site must not
            // open a breaker for every other.
            o.Retry.ShouldHandle = static _ => ValueTask.FromResult(false);
            o.CircuitBreaker.ShouldHandle = static _ => ValueTask.FromResult(false);
            o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(60);
        });
        services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        services.AddHttpClient(BuiltinRegistration.HttpClientName(ToolName)).ConfigurePrimaryHttpMessageHandler(static sp => CreateHandler(sp));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebFetchOptions>, WebFetchOptionsValidator>());
        services.AddOptions<WebFetchOptions>().ValidateOnStart();
    }

    private static SocketsHttpHandler CreateHandler(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<WebFetchOptions>>().Value;
        var resolver = services.GetRequiredService<IHostResolver>();
        List<AllowedHost> allowed = [];
        foreach (string entry in options.AllowedPrivateHosts)
        {
            if (AllowedHost.TryParse(entry, out var host))
            {
                allowed.Add(host);
            }
        }

        bool allowAll = options.AllowPrivateNetworks;
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false, // a proxy would make the connection to itself, where the address check cannot see the target
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxResponseHeadersLength = 64,
            MaxResponseDrainSize = 0, // a body cut at MaxBytes closes the connection rather than reading on to reuse it
            ConnectCallback = (context, cancellationToken) => SsrfGuard.ConnectAsync(context.DnsEndPoint, resolver.ResolveAsync,
                (host, port) => allowAll || allowed.Exists(a => a.Matches(host, port)), cancellationToken),
        };
    }

    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        string? text = call.String("url")?.Trim();
        if (string.IsNullOrEmpty(text) || !Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            return BuiltinToolResult.Error("url must be an absolute http or https URL, for example https://example.com/page.");
        }

        int maxChars = _options.MaxOutputChars;
        if (call.Get("max_chars").ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            if (call.Integer("max_chars") is not { } requested || requested < 1)
            {
                return BuiltinToolResult.Error("max_chars must be a positive integer.");
            }

            maxChars = (int)Math.Clamp(requested, 100, _options.MaxOutputChars);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        var current = url;
        try
        {
            var client = _httpClients.CreateClient(BuiltinRegistration.HttpClientName(ToolName));
            for (int redirects = 0; ; redirects++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, current);
                request.Headers.TryAddWithoutValidation("User-Agent", _options.UserAgent);
                request.Headers.TryAddWithoutValidation("Accept", "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.9,*/*;q=0.1");
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (IsRedirect(response.StatusCode))
                {
                    if (response.Headers.Location is not { } location)
                    {
                        return BuiltinToolResult.Error($"{current} redirected without saying where to (no Location header).");
                    }

                    var next = new Uri(current, location);
                    if (next.Scheme is not ("http" or "https"))
                    {
                        return BuiltinToolResult.Error($"{current} redirected to {next.Scheme}: URL, which web_fetch does not read.");
                    }

                    if (redirects >= _options.MaxRedirects)
                    {
                        return BuiltinToolResult.Error($"{url} redirected more than {_options.MaxRedirects} times; web_fetch stopped at {next}.");
                    }

                    current = next;
                    continue;
                }

                if (!response.IsSuccessStatusCode)
                {
                    return BuiltinToolResult.Error($"{current} answered HTTP {(int)response.StatusCode} ({response.ReasonPhrase}).");
                }

                return await ReadAsync(current, response, maxChars, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return BuiltinToolResult.Error($"{current} was not fetched and read within the {_options.TimeoutSeconds:0.#} s limit.");
        }
        catch (TimeoutRejectedException)
        {
            return BuiltinToolResult.Error($"{current} did not answer in time.");
        }
        catch (HttpRequestException e) when (Refused(e) is { } refused)
        {
            Log.Refused(_logger, refused.Host);
            string via = current == url ? "" : $" (redirected from {url})";
            return BuiltinToolResult.Error($"web_fetch refused {current}{via}: {refused.Host} resolves to a private, loopback or link-local address. Only public web addresses can be read.");
        }
        catch (IOException)
        {
            return BuiltinToolResult.Error($"the connection to {current.Host} broke while reading {current}.");
        }
        catch (HttpRequestException e)
        {
            return BuiltinToolResult.Error(e.HttpRequestError switch
            {
                HttpRequestError.NameResolutionError => $"{current.Host} does not resolve; check the URL.",
                HttpRequestError.ConnectionError => $"could not connect to {current.Host}.",
                HttpRequestError.SecureConnectionError => $"the TLS connection to {current.Host} failed.",
                HttpRequestError.ConfigurationLimitExceeded => $"{current} sent response headers larger than web_fetch reads.",
                _ => $"could not fetch {current} ({e.HttpRequestError}).",
            });
        }
    }

    private async Task<BuiltinToolResult> ReadAsync(Uri url, HttpResponseMessage response, int maxChars, CancellationToken cancellationToken)
    {
        var declared = response.Content.Headers.ContentType;
        string? mediaType = declared?.MediaType?.ToLowerInvariant();
        if (mediaType is not null && Kind(mediaType) is null)
        {
            return BuiltinToolResult.Error($"{url} is {mediaType}; web_fetch reads HTML, plain text and JSON only.");
        }

        var (body, length, cut) = await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false);
        try
        {
            var bytes = body.AsSpan(0, length);
            var kind = mediaType is null ? Sniff(bytes) : Kind(mediaType);
            if (kind is null)
            {
                return BuiltinToolResult.Error($"{url} sent binary content without a content type; web_fetch reads HTML, plain text and JSON only.");
            }

            var encoding = Charset(declared?.CharSet) ?? Bom(bytes) ?? (kind == ContentKind.Html ? MetaCharset(bytes) : null) ?? Encoding.UTF8;
            string text = encoding.GetString(bytes);
            if (text.Length > 0 && text[0] == '\uFEFF')
            {
                text = text[1..];
            }

            string? title = null;
            if (kind == ContentKind.Html)
            {
                (title, text) = await MarkdownAsync(url, text, maxChars, cancellationToken).ConfigureAwait(false);
            }

            if (text.Length > maxChars)
            {
                text = text[..(char.IsHighSurrogate(text[maxChars - 1]) ? maxChars - 1 : maxChars)];
                cut = true;
            }

            return BuiltinToolResult.Ok(Write(url, title, mediaType ?? (kind == ContentKind.Html ? "text/html" : "text/plain"), text, cut));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>Reads the body up to <see cref="WebFetchOptions.MaxBytes"/>; what lies beyond is not downloaded.</summary>
    private async Task<(byte[] Buffer, int Length, bool Cut)> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int limit = (int)_options.MaxBytes;
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1L, Math.Max(response.Content.Headers.ContentLength ?? 0, 16 * 1024) + 1));
        int length = 0;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                if (length == buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1L, buffer.Length * 2L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await stream.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit + 1) - length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, length, false);
                }

                length += read;
                if (length > limit)
                {
                    return (buffer, limit, true);
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private async Task<(string? Title, string Markdown)> MarkdownAsync(Uri url, string html, int maxChars, CancellationToken cancellationToken)
    {
        // The parser observes the token, so a page built to be slow to parse ends with the call's time limit.
        var parser = new HtmlParser();
        var document = await parser.ParseDocumentAsync(html, cancellationToken).ConfigureAwait(false);
        string? title = Title(document.Title);
        if (CountElements(document, ReadabilityMaxElements + 1) <= ReadabilityMaxElements)
        {
            var article = await Task.Run(() =>
            {
                using var reader = new Reader(url.AbsoluteUri, document) { KeepClasses = true }; // classes carry code blocks' language
                return reader.GetArticle();
            }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (article.IsReadable && !string.IsNullOrWhiteSpace(article.Content))
            {
                var content = await parser.ParseDocumentAsync(article.Content, cancellationToken).ConfigureAwait(false);
                string markdown = HtmlToMarkdown.Convert(content.Body!, url, maxChars, skipChrome: false);
                if (markdown.Length > 0)
                {
                    return (Title(article.Title) ?? title, markdown);
                }
            }

            // Readability changes the document it reads; the whole page is read from a fresh parse.
            document = await parser.ParseDocumentAsync(html, cancellationToken).ConfigureAwait(false);
        }

        return (title, HtmlToMarkdown.Convert((AngleSharp.Dom.INode?)document.Body ?? document, url, maxChars, skipChrome: true));
    }

    /// <summary>Counts the document's elements, up to <paramref name="stopAt"/>; child lists are read by index (AngleSharp's
    /// sibling links and element collections cost time in proportion to a node's position).</summary>
    private static int CountElements(IHtmlDocument document, int stopAt)
    {
        int count = 0;
        var pending = new Stack<AngleSharp.Dom.INode>();
        pending.Push(document.DocumentElement);
        while (pending.Count > 0 && count < stopAt)
        {
            var node = pending.Pop();
            count++;
            var children = node.ChildNodes;
            for (int i = 0; i < children.Length && count + pending.Count < stopAt; i++)
            {
                if (children[i] is AngleSharp.Dom.IElement element)
                {
                    pending.Push(element);
                }
            }
        }

        return count;
    }

    private static string Write(Uri url, string? title, string contentType, string content, bool truncated)
    {
        var buffer = new ArrayBufferWriter<byte>(content.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("url", url.AbsoluteUri);
            if (title is not null)
            {
                writer.WriteString("title", title);
            }

            writer.WriteString("content_type", contentType);
            writer.WriteString("content", content);
            writer.WriteBoolean("truncated", truncated);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private enum ContentKind
    {
        Html,
        Text,
    }

    private static ContentKind? Kind(string mediaType) => mediaType switch
    {
        "text/html" or "application/xhtml+xml" => ContentKind.Html,
        "text/plain" or "text/markdown" or "application/json" or "text/json" => ContentKind.Text,
        _ when mediaType.StartsWith("application/", StringComparison.Ordinal) && mediaType.EndsWith("+json", StringComparison.Ordinal) => ContentKind.Text,
        _ => null,
    };

    /// <summary>A body without a content type: binary when it has NUL bytes, HTML when it starts like a page, else text.</summary>
    private static ContentKind? Sniff(ReadOnlySpan<byte> bytes)
    {
        var head = bytes[..Math.Min(bytes.Length, 1024)];
        if (head.Contains((byte)0))
        {
            return null;
        }

        string start = Encoding.ASCII.GetString(head).TrimStart().ToLowerInvariant();
        return start.StartsWith("<!doctype html", StringComparison.Ordinal) || start.StartsWith("<html", StringComparison.Ordinal) ? ContentKind.Html : ContentKind.Text;
    }

    private static Encoding? Charset(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        name = name.Trim().Trim('"', '\'');
        try
        {
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            // Legacy code pages (windows-1252, shift_jis, ...) without registering a provider for the whole process.
            return CodePagesEncodingProvider.Instance.GetEncoding(name);
        }
    }

    private static Encoding? Bom(ReadOnlySpan<byte> bytes)
        => bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? Encoding.UTF8
            : bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) ? Encoding.Unicode
            : bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? Encoding.BigEndianUnicode
            : null;

    private static Encoding? MetaCharset(ReadOnlySpan<byte> bytes)
    {
        var match = MetaCharsetPattern().Match(Encoding.ASCII.GetString(bytes[..Math.Min(bytes.Length, 2048)]));
        return match.Success ? Charset(match.Groups[1].Value) : null;
    }

    private static string? Title(string? title)
    {
        string? trimmed = title is null ? null : string.Join(' ', title.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return string.IsNullOrEmpty(trimmed) ? null : trimmed;
    }

    private static bool IsRedirect(HttpStatusCode status)
        => status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    private static SsrfRefusedException? Refused(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SsrfRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }

    [GeneratedRegex("""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex MetaCharsetPattern();

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "web_fetch refused a connection to {Host}: it resolves to a private address")]
        public static partial void Refused(ILogger logger, string host);
    }
}
