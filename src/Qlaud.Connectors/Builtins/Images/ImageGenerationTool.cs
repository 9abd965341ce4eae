using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Images;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins;

/// <summary>
/// The <c>image_generation</c> builtin: draws one image from a prompt through Qlaud's own routing (<see cref="IQlaudImages"/>, the
/// image model of <c>Qlaud:Builtins:image_generation:Model</c>), charged per image at the catalog's image price by routing metering,
/// and gives the model a URL the gateway serves for a limited time (<c>GET /v1/images/{token}</c>), or the image as base64.
/// </summary>
/// <remarks>The URL's base is <c>Qlaud:Connectors:PublicBaseUrl</c>, else the base URL the turn's HTTP request reached the gateway
/// at; an in-process call with neither gets base64.</remarks>
internal sealed class ImageGenerationTool : BuiltinTool
{
    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {
          "type": "object",
          "properties": {
            "prompt": { "type": "string", "description": "A detailed description of the image to draw." },
            "size": { "type": "string", "enum": ["auto", "1024x1024", "1536x1024", "1024x1536"], "description": "Width x height: square, landscape or portrait (default auto)." },
            "quality": { "type": "string", "enum": ["auto", "low", "medium", "high"], "description": "Rendering quality; higher costs more (default auto)." }
          },
          "required": ["prompt"],
          "additionalProperties": false
        }
        """);

    private readonly IQlaudImages _images;
    private readonly ImageStore _store;
    private readonly ModelCatalog _catalog;
    private readonly ImageGenerationOptions _options;
    private readonly Uri? _publicBase;

    public ImageGenerationTool(IQlaudImages images, ImageStore store, ModelCatalog catalog, IOptions<ImageGenerationOptions> options,
        IOptions<ConnectorsOptions> connectors)
    {
        _images = images;
        _store = store;
        _catalog = catalog;
        _options = options.Value;
        _publicBase = connectors.Value.PublicBaseUrl is { Length: > 0 } b ? new Uri(b.TrimEnd('/') + "/") : null;
    }

    public override string Name => "image_generation";

    public override string Description =>
        "Generates one image from a text prompt and returns a link to it (valid for a limited time). Describe the subject, style and composition in the prompt.";

    public override JsonElement InputSchema => Schema;

    public override bool IsAvailable
        => _options.Enabled && _catalog.TryGetModel(_options.Model, out var model) && model.IsImage && model.IsAvailable;

    /// <summary>0 unless <c>PriceUsd</c> is set: the image itself is charged by routing metering at the catalog's image price, so the
    /// tool loop's flat per-call charge would bill it twice.</summary>
    public override long PriceMicros => BuiltinRegistration.Price(_options, 0);

    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        string? prompt = call.String("prompt");
        if (string.IsNullOrWhiteSpace(prompt))
        {
            return BuiltinToolResult.Error("'prompt' is required: describe the image to draw.");
        }

        var request = new QlaudImageRequest(_options.Model, prompt)
        {
            Size = call.String("size"),
            Quality = call.String("quality"),
            Caller = call.Caller,
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        QlaudImageResult result;
        try
        {
            result = await _images.GenerateAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return BuiltinToolResult.Error($"Image generation timed out after {_options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s; try again, perhaps at a lower quality.");
        }
        catch (QlaudException ex)
        {
            return BuiltinToolResult.Error(Describe(ex.Error));
        }

        var image = result.Images[0];
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Uri? gateway = _publicBase ?? ConnectLinkBase.Current;
            if (image.Url is { } upstream)
            {
                w.WriteString("url", upstream.AbsoluteUri);
            }
            else if (_options.ReturnBase64 || gateway is null)
            {
                w.WriteBase64String("b64_json", image.Data.Span);
                w.WriteString("media_type", image.MediaType);
            }
            else
            {
                var (token, expiresAt) = await _store.SaveAsync(image.Data, image.MediaType, TimeSpan.FromMinutes(_options.UrlMinutes), cancellationToken).ConfigureAwait(false);
                w.WriteString("url", new Uri(gateway, "v1/images/" + token).AbsoluteUri);
                w.WriteString("expires_at", expiresAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            }

            if (image.RevisedPrompt is { } revised)
            {
                w.WriteString("revised_prompt", revised);
            }

            w.WriteEndObject();
        }

        return BuiltinToolResult.Ok(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>The text the model reads for a failed generation.</summary>
    private static string Describe(QlaudError error) => error.Kind switch
    {
        QlaudErrorKind.PaymentRequired => $"Not generated: this account or key cannot afford an image ({error.Message})",
        QlaudErrorKind.RateLimited => $"Image generation is rate limited; retry after {Math.Ceiling(error.RetryAfter?.TotalSeconds ?? 1).ToString(CultureInfo.InvariantCulture)} s.",
        QlaudErrorKind.InvalidRequest => $"The image request was refused: {error.Message}",
        QlaudErrorKind.Timeout => $"Image generation timed out: {error.Message}",
        _ when error.Code == "provider_authentication_failed" => $"The operator's image provider key was refused; image generation is unavailable. ({error.Message})",
        _ when error.StatusCode >= 500 => $"The image provider failed ({error.StatusCode.ToString(CultureInfo.InvariantCulture)}); try again later. {error.Message}",
        _ => $"Image generation failed: {error.Message}",
    };
}
