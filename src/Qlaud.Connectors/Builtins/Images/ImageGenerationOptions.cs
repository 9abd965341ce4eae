namespace Qlaud.Connectors.Builtins;

/// <summary>The settings of the <c>image_generation</c> builtin, in <c>Qlaud:Builtins:image_generation</c>.</summary>
/// <remarks>The tool has no vendor key of its own: it generates through Qlaud's routing, so <see cref="BuiltinToolOptions.ApiKey"/> and
/// <see cref="BuiltinToolOptions.BaseUrl"/> are not used (the image model's provider key is <c>Qlaud:Providers:{name}:ApiKey</c>). Each
/// image is charged through routing metering at the catalog's image price; <see cref="BuiltinToolOptions.PriceUsd"/> is an extra flat
/// fee per call on top, 0 unless set.</remarks>
public sealed class ImageGenerationOptions : BuiltinToolOptions
{
    /// <summary>Creates the options with the tool's defaults (a 120 s timeout: an image takes longer than a search).</summary>
    public ImageGenerationOptions() => TimeoutSeconds = 120;

    /// <summary>The catalog slug of the image model (default <c>gpt-image-1</c>); the tool is available only while this model exists
    /// in the catalog with the <c>images</c> capability and a configured provider.</summary>
    public string Model { get; set; } = "gpt-image-1";

    /// <summary>Minutes the generated image stays at its gateway URL (default 60, 1 to 10080).</summary>
    public int UrlMinutes { get; set; } = 60;

    /// <summary>Whether the model gets the image itself as base64 (<c>b64_json</c>) instead of a URL (default <see langword="false"/>).</summary>
    public bool ReturnBase64 { get; set; }
}
