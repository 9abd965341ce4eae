using System.Text;
using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>One HTTP request as the fake provider received it.</summary>
public sealed class RecordedRequest
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, string> _headers;
    private readonly byte[] _body;
    private string? _bodyText;
    private JsonElement? _bodyJson;
    private bool _bodyJsonParsed;
    private volatile bool _cancelled;

    internal RecordedRequest(
        string method,
        string path,
        Dictionary<string, string> headers,
        byte[] body,
        DateTimeOffset receivedAt,
        string? model,
        bool stream)
    {
        Method = method;
        Path = path;
        _headers = headers;
        _body = body;
        ReceivedAt = receivedAt;
        Model = model;
        Stream = stream;
    }

    /// <summary>The HTTP method, e.g. <c>POST</c>.</summary>
    public string Method { get; }

    /// <summary>The path with the query string, e.g. <c>/v1/chat/completions</c>.</summary>
    public string Path { get; }

    /// <summary>All request headers, looked up case-insensitively; repeated headers are joined with <c>", "</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers => _headers;

    /// <summary>The raw request body.</summary>
    public ReadOnlyMemory<byte> Body => _body;

    /// <summary>The body decoded as UTF-8.</summary>
    public string BodyText => _bodyText ??= Encoding.UTF8.GetString(_body);

    /// <summary>The body parsed as JSON; <see langword="null"/> when it is empty or not JSON.</summary>
    public JsonElement? BodyJson
    {
        get
        {
            if (!_bodyJsonParsed)
            {
                _bodyJson = TryParse(_body);
                _bodyJsonParsed = true;
            }

            return _bodyJson;
        }
    }

    /// <summary>When the fake provider received the request (its <see cref="FakeProviderOptions.TimeProvider"/>).</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>The <c>model</c> of a JSON body, when present.</summary>
    public string? Model { get; }

    /// <summary>Whether the body asked for a stream (<c>"stream": true</c>).</summary>
    public bool Stream { get; }

    /// <summary>
    /// <see langword="true"/> when the client aborted the request while the fake was still waiting, hanging or
    /// writing: proof that a client disconnect cancelled the upstream call. A cut-off scripted by the fake itself
    /// does not count.
    /// </summary>
    public bool Cancelled => _cancelled;

    /// <summary>Completes when the fake has finished with the request: answered, cut off, or aborted by the client.</summary>
    public Task Completion => _completion.Task;

    /// <summary>A header value, or <see langword="null"/> when the header is absent.</summary>
    /// <param name="name">The header name (any case).</param>
    public string? GetHeader(string name) => _headers.TryGetValue(name, out var value) ? value : null;

    /// <inheritdoc/>
    public override string ToString() => $"{Method} {Path} ({_body.Length} bytes)";

    internal void MarkCancelled() => _cancelled = true;

    internal void MarkCompleted() => _completion.TrySetResult();

    private static JsonElement? TryParse(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
