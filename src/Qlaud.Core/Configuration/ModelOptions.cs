namespace Qlaud.Configuration;

/// <summary>One entry of <c>Qlaud:Models</c>: adds a model to the catalog or overrides the built-in one with the same id.</summary>
/// <remarks>
/// When the id exists in the built-in catalog, each property that is set replaces the built-in value, and each route
/// replaces the built-in route with the same <see cref="RouteOptions.Provider"/> field by field (new providers add routes).
/// </remarks>
public sealed class ModelOptions
{
    /// <summary>The model slug clients send, for example <c>gpt-4o-mini</c>.</summary>
    public string? Id { get; set; }

    /// <summary>A display name.</summary>
    public string? Name { get; set; }

    /// <summary>Who made the model, for example <c>openai</c>, <c>meta</c>.</summary>
    public string? Owner { get; set; }

    /// <summary>The maximum context in tokens.</summary>
    public int? ContextLength { get; set; }

    /// <summary>The maximum output tokens; used for the worst-case cost when a request sets no limit.</summary>
    public int? MaxOutputTokens { get; set; }

    /// <summary>Capabilities: any of <c>tools</c>, <c>vision</c>, <c>json</c>, <c>reasoning</c>; or <c>embeddings</c> alone for an
    /// embedding model (served on <c>POST /v1/embeddings</c>, input tokens billed, output price optional).</summary>
    public List<string>? Capabilities { get; set; }

    /// <summary>The routes (hosts) serving the model, in priority order.</summary>
    public List<RouteOptions> Routes { get; set; } = [];
}
