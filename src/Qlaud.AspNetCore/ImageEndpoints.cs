using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Configuration;
using Qlaud.Connectors;
using Qlaud.Dialects;
using Qlaud.Images;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for OpenAI's <c>POST /v1/images/generations</c> (policy <see cref="QlaudAuthorizationPolicies.AnyKey"/>, metered per
/// image) and <c>GET /v1/images/{token}</c>, the limited-time URL of a generated image (anonymous: the token is the permission).</summary>
internal sealed class ImageEndpoints(QlaudImages images, ImageStore store, IHostApplicationLifetime lifetime, IOptions<QlaudOptions> options,
    IOptions<ConnectorsOptions> connectors)
{
    private readonly int _maxRequestBytes = options.Value.Limits.MaxRequestBytes;
    private readonly Uri? _publicBase = connectors.Value.PublicBaseUrl is { Length: > 0 } b ? new Uri(b.TrimEnd('/') + "/") : null;

    private static IChatDialect OpenAI => DialectRegistry.Get("openai");

    public async Task GenerateAsync(HttpContext context)
    {
        string requestId = Qlaud.Diagnostics.RequestIds.New();
        context.Response.Headers["x-qlaud-request-id"] = requestId;
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = aborted.Token;
        var (body, bodyError) = await QlaudHttp.ReadBodyAsync(context.Request, _maxRequestBytes, cancellationToken, QlaudHttp.LimitKey).ConfigureAwait(false);
        using (body)
        {
            if (bodyError is not null)
            {
                await QlaudHttp.WriteErrorAsync(context, OpenAI, bodyError).ConfigureAwait(false);
                return;
            }

            var (request, url, invalid) = Parse(body!.WrittenMemory);
            if (invalid is not null)
            {
                await QlaudHttp.WriteErrorAsync(context, OpenAI, new QlaudError(QlaudErrorKind.InvalidRequest, invalid)).ConfigureAwait(false);
                return;
            }

            QlaudImageResult result;
            try
            {
                result = await images.GenerateAsync(request! with { Caller = QlaudKeyFeature.Of(context).Caller }, requestId, cancellationToken).ConfigureAwait(false);
            }
            catch (QlaudException ex)
            {
                await QlaudHttp.WriteErrorAsync(context, OpenAI, ex.Error).ConfigureAwait(false);
                return;
            }

            Uri? gateway = url ? _publicBase ?? ConnectorEndpoints.BaseUri(context) : null;
            var links = new (string Url, DateTimeOffset ExpiresAt)?[result.Images.Count];
            for (int i = 0; i < links.Length && gateway is not null; i++)
            {
                var image = result.Images[i];
                if (image.Url is null)
                {
                    var (token, expiresAt) = await store.SaveAsync(image.Data, image.MediaType, store.DefaultLifetime, cancellationToken).ConfigureAwait(false);
                    links[i] = (ImageUrl(gateway, token), expiresAt);
                }
            }

            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            response.Headers["x-qlaud-route"] = result.Route;
            response.Headers["x-qlaud-attempts"] = result.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
            using (var w = new Utf8JsonWriter(response.BodyWriter))
            {
                Write(w, result, links);
            }

            await response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task GetAsync(HttpContext context)
    {
        var opened = store.Open(context.Request.RouteValues["token"] as string);
        if (opened is not { } image)
        {
            await QlaudHttp.WriteErrorAsync(context, OpenAI, new QlaudError(QlaudErrorKind.NotFound,
                "No image at this URL: it never existed or its time ran out.", "image_not_found")).ConfigureAwait(false);
            return;
        }

        await using (image.Content)
        {
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = image.MediaType;
            response.ContentLength = image.Content.Length;
            response.Headers.CacheControl = "private, max-age=300";
            response.Headers.XContentTypeOptions = "nosniff";
            await image.Content.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>The URL of the image <paramref name="token"/> under the gateway's base URL.</summary>
    internal static string ImageUrl(Uri gatewayBase, string token) => new Uri(gatewayBase, "v1/images/" + token).AbsoluteUri;

    /// <summary>Reads the request body: the request, whether the client wants URLs (<c>response_format: "url"</c>), or why it is invalid.</summary>
    internal static (QlaudImageRequest? Request, bool Url, string? Error) Parse(ReadOnlyMemory<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            return (null, false, $"The request body is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, false, "The request body must be a JSON object.");
            }

            string? model = null, prompt = null, size = null, quality = null, format = null, background = null, user = null;
            int n = 1;
            bool url = false;
            List<string>? models = null;
            Dictionary<string, JsonElement>? extra = null;
            foreach (var property in root.EnumerateObject())
            {
                var value = property.Value;
                string? error = null;
                switch (property.Name)
                {
                    case "model": error = Text(value, "model", out model); break;
                    case "prompt": error = Text(value, "prompt", out prompt); break;
                    case "size": error = Text(value, "size", out size); break;
                    case "quality": error = Text(value, "quality", out quality); break;
                    case "output_format": error = Text(value, "output_format", out format); break;
                    case "background": error = Text(value, "background", out background); break;
                    case "user": error = Text(value, "user", out user); break;
                    case "n":
                        if (value.ValueKind != JsonValueKind.Null && (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out n)))
                        {
                            error = "'n' must be an integer.";
                        }

                        break;
                    case "response_format":
                        error = Text(value, "response_format", out string? responseFormat);
                        if (error is null && responseFormat is not (null or "url" or "b64_json"))
                        {
                            error = $"'response_format' must be 'url' or 'b64_json', not '{responseFormat}'.";
                        }

                        url = responseFormat == "url";
                        break;
                    case "stream":
                        if (value.ValueKind == JsonValueKind.True)
                        {
                            error = "Streaming image generation ('stream': true) is not supported by this gateway.";
                        }

                        break;
                    case "models":
                        error = Models(value, out models);
                        break;
                    default:
                        (extra ??= new(StringComparer.Ordinal))[property.Name] = value.Clone();
                        break;
                }

                if (error is not null)
                {
                    return (null, false, error);
                }
            }

            if (model is null && models is not { Count: > 0 })
            {
                return (null, false, "'model' is required: an image model's id (GET /v1/models lists them with \"kind\": \"image\").");
            }

            return (new QlaudImageRequest(model ?? models![0], prompt ?? "")
            {
                N = n,
                Size = size,
                Quality = quality,
                OutputFormat = format,
                Background = background,
                EndUserId = user,
                Models = model is null ? models!.GetRange(1, models.Count - 1) : models,
                AdditionalProperties = extra,
            }, url, null);
        }
    }

    /// <summary>Writes OpenAI's images answer: <c>created</c>, <c>data</c> (<c>b64_json</c> or <c>url</c>, with <c>revised_prompt</c>),
    /// the settings the provider reports and its usage.</summary>
    private static void Write(Utf8JsonWriter w, QlaudImageResult result, (string Url, DateTimeOffset ExpiresAt)?[] links)
    {
        w.WriteStartObject();
        w.WriteNumber("created", result.Created.ToUnixTimeSeconds());
        w.WriteStartArray("data");
        for (int i = 0; i < result.Images.Count; i++)
        {
            var image = result.Images[i];
            w.WriteStartObject();
            if (links[i] is { } link)
            {
                w.WriteString("url", link.Url);
                w.WriteNumber("expires_at", link.ExpiresAt.ToUnixTimeSeconds());
            }
            else if (image.Url is { } upstream)
            {
                w.WriteString("url", upstream.AbsoluteUri);
            }
            else
            {
                w.WriteBase64String("b64_json", image.Data.Span);
            }

            if (image.RevisedPrompt is { } revised)
            {
                w.WriteString("revised_prompt", revised);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteIfSet(w, "background", result.Background);
        WriteIfSet(w, "output_format", result.OutputFormat);
        WriteIfSet(w, "quality", result.Quality);
        WriteIfSet(w, "size", result.Size);
        if (result.Usage is { } usage)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", usage.Input);
            w.WriteNumber("output_tokens", usage.Output);
            w.WriteNumber("total_tokens", usage.Input + usage.Output);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteIfSet(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static string? Models(JsonElement value, out List<string>? models)
    {
        models = null;
        if (value.ValueKind != JsonValueKind.Array)
        {
            return "'models' must be an array of model ids.";
        }

        var list = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                return "'models' must be an array of model ids.";
            }

            list.Add(item.GetString()!);
        }

        models = list;
        return null;
    }

    private static string? Text(JsonElement value, string name, out string? text)
    {
        text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return value.ValueKind is JsonValueKind.String or JsonValueKind.Null ? null : $"'{name}' must be a string.";
    }
}
