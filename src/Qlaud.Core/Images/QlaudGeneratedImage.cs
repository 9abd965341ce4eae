namespace Qlaud.Images;

/// <summary>One generated image: its bytes (the provider's <c>b64_json</c>), or the provider's own URL when it answered with one.</summary>
/// <param name="Data">The encoded image; empty when the provider answered with <paramref name="Url"/>.</param>
/// <param name="Url">The provider's URL of the image (DALL·E models by default); null when <paramref name="Data"/> holds it.</param>
/// <param name="MediaType">The image's media type, for example <c>image/png</c>.</param>
/// <param name="RevisedPrompt">The prompt the provider actually drew, when it rewrote it.</param>
public sealed record QlaudGeneratedImage(ReadOnlyMemory<byte> Data, Uri? Url, string MediaType, string? RevisedPrompt);
