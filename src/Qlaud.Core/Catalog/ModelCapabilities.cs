namespace Qlaud.Catalog;

/// <summary>What a model can do.</summary>
[Flags]
public enum ModelCapabilities
{
    /// <summary>Plain text chat only.</summary>
    None = 0,
    /// <summary>Function/tool calling.</summary>
    Tools = 1,
    /// <summary>Image input.</summary>
    Vision = 2,
    /// <summary>JSON mode / structured output.</summary>
    Json = 4,
    /// <summary>Reasoning (thinking) tokens.</summary>
    Reasoning = 8,
    /// <summary>The provider's own structured outputs: Anthropic <c>output_config.format</c> (configured as <c>structured_outputs</c>).</summary>
    StructuredOutputs = 16,
    /// <summary>An embedding model: served on <c>POST /v1/embeddings</c> and by the in-process embedding generator, never as a chat model.</summary>
    Embeddings = 32,
    /// <summary>An image generation model: served on <c>POST /v1/images/generations</c> and by the in-process
    /// <see cref="Images.IQlaudImages"/>, never as a chat model; priced per image (<see cref="CatalogRoute.ImagePrice"/>).</summary>
    Images = 64,
}
