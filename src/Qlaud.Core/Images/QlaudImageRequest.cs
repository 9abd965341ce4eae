namespace Qlaud.Images;

/// <summary>An image generation request, the fields of OpenAI's <c>POST /v1/images/generations</c>.</summary>
/// <param name="Model">The image model's catalog slug (for example <c>gpt-image-1</c>).</param>
/// <param name="Prompt">What to draw.</param>
public sealed record QlaudImageRequest(string Model, string Prompt)
{
    /// <summary>The number of images, 1 to 10 (default 1).</summary>
    public int N { get; init; } = 1;

    /// <summary>The size, for example <c>1024x1024</c> or <c>auto</c>; the provider's default when null.</summary>
    public string? Size { get; init; }

    /// <summary>The quality: <c>low</c>, <c>medium</c>, <c>high</c> or <c>auto</c> (GPT image models), <c>standard</c> or <c>hd</c>
    /// (DALL·E 3); the provider's default when null.</summary>
    public string? Quality { get; init; }

    /// <summary>The encoding of the image: <c>png</c>, <c>jpeg</c> or <c>webp</c>; the provider's default (PNG) when null.</summary>
    public string? OutputFormat { get; init; }

    /// <summary>The background: <c>transparent</c>, <c>opaque</c> or <c>auto</c>; the provider's default when null.</summary>
    public string? Background { get; init; }

    /// <summary>Fallback image models tried in order when every route of <see cref="Model"/> fails.</summary>
    public IReadOnlyList<string>? Models { get; init; }

    /// <summary>The end user the images are for: sent to the provider as <c>user</c> and attributed in the ledger when the
    /// caller's key names none.</summary>
    public string? EndUserId { get; init; }

    /// <summary>Other fields of the provider's request body, sent as they are (for example <c>moderation</c>, <c>style</c>,
    /// <c>output_compression</c>).</summary>
    public IReadOnlyDictionary<string, System.Text.Json.JsonElement>? AdditionalProperties { get; init; }

    /// <summary>Who pays: the key's account, cap and wallet. When null, the ambient <see cref="QlaudCallScope"/>, else the
    /// in-process default account.</summary>
    public QlaudCaller? Caller { get; init; }
}
