using Microsoft.Extensions.DependencyInjection;

namespace Qlaud.Connectors.Builtins;

/// <summary>The first-party builtin tools Qlaud ships; each is offered only where it is available (configured, not disabled).</summary>
internal static class BuiltinCatalog
{
    /// <summary>Registers every builtin (idempotent). One line per tool.</summary>
    public static void AddAll(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        WebSearch.WebSearchTool.Register(services);
        WebFetch.WebFetchTool.Register(services);
        CodeExecution.CodeExecutionTool.Add(services);
        BuiltinRegistration.AddBuiltin<ImageGenerationTool, ImageGenerationOptions>(services, "image_generation");
        services.AddOptions<ImageGenerationOptions>()
            .Validate(static o => o.UrlMinutes is >= 1 and <= 10_080, "Qlaud:Builtins:image_generation:UrlMinutes must be between 1 and 10080 (a week).")
            .Validate(static o => o.TimeoutSeconds is > 0 and <= 3_600, "Qlaud:Builtins:image_generation:TimeoutSeconds must be greater than 0 and at most 3600.")
            .Validate(static o => !string.IsNullOrWhiteSpace(o.Model), "Qlaud:Builtins:image_generation:Model must name an image model of the catalog.")
            .ValidateOnStart();
    }
}
