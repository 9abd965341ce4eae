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
    }
}
