using System.Globalization;
using System.Text.Json;
using Qlaud.Metering;

namespace Qlaud.Images;

/// <summary>OpenAI's image generation format (<c>POST /images/generations</c>): the request Qlaud sends, the answer it reads, the
/// answer <c>POST /v1/images/generations</c> writes, and the checks a request passes first.</summary>
internal static class ImagesWire
{
    /// <summary>The most images one request may ask for (OpenAI's limit).</summary>
    public const int MaxImages = 10;

    /// <summary>The longest prompt accepted, in characters (OpenAI's limit for GPT image models).</summary>
    public const int MaxPromptLength = 32_000;

    /// <summary>The fields Qlaud writes itself; an additional property may not repeat them.</summary>
    private static readonly HashSet<string> OwnFields = new(StringComparer.Ordinal)
    {
        "model", "prompt", "n", "size", "quality", "output_format", "background", "user", "models", "response_format", "stream",
    };

    /// <summary>Why <paramref name="request"/> cannot be sent, or null when it can.</summary>
    public static string? Validate(QlaudImageRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Prompt))
        {
            return "'prompt' is required: a text description of the image.";
        }

        if (request.Prompt.Length > MaxPromptLength)
        {
            return $"'prompt' is longer than {MaxPromptLength.ToString(CultureInfo.InvariantCulture)} characters.";
        }

        if (request.N is < 1 or > MaxImages)
        {
            return $"'n' must be between 1 and {MaxImages.ToString(CultureInfo.InvariantCulture)}, not {request.N.ToString(CultureInfo.InvariantCulture)}.";
        }

        if (request.Size is { } size && !IsSize(size))
        {
            return $"'size' must be 'auto' or WIDTHxHEIGHT (for example 1024x1024), not '{size}'.";
        }

        if (request.Quality is { } quality && quality is not ("auto" or "low" or "medium" or "high" or "standard" or "hd"))
        {
            return $"'quality' must be one of auto, low, medium, high, standard, hd, not '{quality}'.";
        }

        if (request.OutputFormat is { } format && format is not ("png" or "jpeg" or "webp"))
        {
            return $"'output_format' must be one of png, jpeg, webp, not '{format}'.";
        }

        if (request.Background is { } background && background is not ("auto" or "transparent" or "opaque"))
        {
            return $"'background' must be one of auto, transparent, opaque, not '{background}'.";
        }

        if (request.AdditionalProperties is { } extra)
        {
            foreach (var (name, _) in extra)
            {
                if (OwnFields.Contains(name))
                {
                    return $"The additional property '{name}' is a field of the request itself.";
                }
            }
        }

        return null;
    }

    /// <summary>Writes the provider's request body.</summary>
    public static void WriteRequest(Utf8JsonWriter w, string upstreamModel, QlaudImageRequest request)
    {
        w.WriteStartObject();
        w.WriteString("model", upstreamModel);
        w.WriteString("prompt", request.Prompt);
        w.WriteNumber("n", request.N);
        WriteIfSet(w, "size", request.Size);
        WriteIfSet(w, "quality", request.Quality);
        WriteIfSet(w, "output_format", request.OutputFormat);
        WriteIfSet(w, "background", request.Background);
        WriteIfSet(w, "user", request.EndUserId);
        if (request.AdditionalProperties is { } extra)
        {
            foreach (var (name, value) in extra)
            {
                w.WritePropertyName(name);
                value.WriteTo(w);
            }
        }

        w.WriteEndObject();
    }

    /// <summary>Reads the provider's answer: its images (decoded from <c>b64_json</c>, or its <c>url</c>), the settings it reports and its usage.</summary>
    /// <exception cref="JsonException">The body is not an images answer.</exception>
    /// <exception cref="FormatException">An image is not valid base64.</exception>
    public static QlaudImageResult ReadResponse(ReadOnlySpan<byte> body, QlaudImageRequest request, DateTimeOffset now)
    {
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("the answer has no 'data' array.");
        }

        string? format = String(root, "output_format") ?? request.OutputFormat;
        string mediaType = MediaType(format);
        var images = new List<QlaudGeneratedImage>(data.GetArrayLength());
        foreach (var item in data.EnumerateArray())
        {
            string? revised = String(item, "revised_prompt");
            if (String(item, "b64_json") is { } b64)
            {
                images.Add(new QlaudGeneratedImage(Convert.FromBase64String(b64), null, mediaType, revised));
            }
            else if (String(item, "url") is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri))
            {
                images.Add(new QlaudGeneratedImage(ReadOnlyMemory<byte>.Empty, uri, mediaType, revised));
            }
            else
            {
                throw new JsonException("an item of 'data' has neither 'b64_json' nor 'url'.");
            }
        }

        if (images.Count == 0)
        {
            throw new JsonException("the answer's 'data' is empty.");
        }

        TokenUsage? usage = null;
        if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
        {
            usage = new TokenUsage(Long(u, "input_tokens"), Long(u, "output_tokens"));
        }

        var created = root.TryGetProperty("created", out var c) && c.TryGetInt64(out long seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : now;
        return new QlaudImageResult(images)
        {
            Created = created,
            Size = String(root, "size") ?? request.Size,
            Quality = String(root, "quality") ?? request.Quality,
            OutputFormat = format,
            Background = String(root, "background") ?? request.Background,
            Usage = usage,
        };
    }

    /// <summary>The media type of an <c>output_format</c> (PNG when none is named).</summary>
    public static string MediaType(string? format) => format switch
    {
        "jpeg" or "jpg" => "image/jpeg",
        "webp" => "image/webp",
        _ => "image/png",
    };

    private static bool IsSize(string size)
    {
        if (size == "auto")
        {
            return true;
        }

        int x = size.IndexOf('x', StringComparison.Ordinal);
        return x > 0 && x < size.Length - 1 && size.Length <= 11
            && int.TryParse(size.AsSpan(0, x), NumberStyles.None, CultureInfo.InvariantCulture, out int width) && width > 0
            && int.TryParse(size.AsSpan(x + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int height) && height > 0;
    }

    private static void WriteIfSet(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static string? String(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long Long(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.TryGetInt64(out long n) ? n : 0;
}
