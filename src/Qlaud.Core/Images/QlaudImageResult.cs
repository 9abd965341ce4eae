namespace Qlaud.Images;

/// <summary>What an image generation request produced.</summary>
/// <param name="Images">The images, in the provider's order.</param>
public sealed record QlaudImageResult(IReadOnlyList<QlaudGeneratedImage> Images)
{
    /// <summary>When the provider says the images were created.</summary>
    public DateTimeOffset Created { get; init; }

    /// <summary>The catalog model that served the request (a fallback model's slug when one did).</summary>
    public string? Model { get; init; }

    /// <summary>The route that served it, <c>provider/upstream-model</c>.</summary>
    public string? Route { get; init; }

    /// <summary>Upstream attempts made, retries and fallbacks included.</summary>
    public int Attempts { get; init; }

    /// <summary>The upstream cost of the images in micro-USD before markup (the catalog's image price times the images).</summary>
    public long CostMicros { get; init; }

    /// <summary>The request's id, the <c>request_id</c> of its ledger entry when it was metered.</summary>
    public string? RequestId { get; init; }

    /// <summary>The size the provider reports it drew, else the requested one.</summary>
    public string? Size { get; init; }

    /// <summary>The quality the provider reports, else the requested one.</summary>
    public string? Quality { get; init; }

    /// <summary>The encoding the provider reports (<c>png</c>, <c>jpeg</c>, <c>webp</c>), else the requested one.</summary>
    public string? OutputFormat { get; init; }

    /// <summary>The background the provider reports, else the requested one.</summary>
    public string? Background { get; init; }

    /// <summary>The token usage the provider reported (GPT image models report it; the images are billed per image, not per token).</summary>
    public Metering.TokenUsage? Usage { get; init; }
}
