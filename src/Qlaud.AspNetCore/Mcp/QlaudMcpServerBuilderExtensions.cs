using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Qlaud.AspNetCore;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Connectors;
using Qlaud.Connectors.Mcp;
using Qlaud.Connectors.Tools;
using Qlaud.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Makes the gateway an MCP server itself.</summary>
public static class QlaudMcpServerBuilderExtensions
{
    /// <summary>
    /// Registers Qlaud's MCP server (ModelContextProtocol.AspNetCore, streamable HTTP, stateless): <c>MapQlaud()</c> then maps
    /// <c>/mcp</c>, authenticated by a Qlaud key like <c>/v1</c>, offering the four <c>qlaud_*</c> meta-tools for the key's end user
    /// (search the connectors' tools, get their schemas, execute them with the end user's connections, manage connections).
    /// </summary>
    /// <param name="builder">The Qlaud builder.</param>
    /// <returns>The builder.</returns>
    /// <remarks>Opt-in, because an app hosts one MCP server per service collection: an app that serves MCP itself adds Qlaud's
    /// tools to its own server instead.</remarks>
    public static IQlaudBuilder AddQlaudMcpServer(this IQlaudBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(static d => d.ServiceType == typeof(QlaudMcpMarker)))
        {
            return builder;
        }

        services.AddSingleton<QlaudMcpMarker>();
        services.AddHttpContextAccessor();
        services.AddMcpServer(static o => o.ServerInfo = new Implementation { Name = "Qlaud", Version = "1.0.0" })
            .WithHttpTransport(static o => o.Stateless = true)
            .WithListToolsHandler(static (request, cancellationToken) =>
            {
                var runtime = Runtime(request.Services!, out HttpContext _);
                var tools = runtime.MetaTools().OfType<Microsoft.Extensions.AI.AIFunction>()
                    .Select(static f => new Tool { Name = f.Name, Description = f.Description, InputSchema = f.JsonSchema }).ToList();
                return ValueTask.FromResult(new ListToolsResult { Tools = tools });
            })
            .WithCallToolHandler(static async (request, cancellationToken) =>
            {
                var runtime = Runtime(request.Services!, out var context);
                ConnectLinkBase.Current = ConnectorEndpoints.BaseUri(context);
                var arguments = JsonSerializer.SerializeToElement(request.Params?.Arguments ?? new Dictionary<string, JsonElement>(), McpJson.Default.IDictionaryStringJsonElement);
                var (failed, text) = await runtime.RunMetaToolAsync(request.Params?.Name ?? "", arguments, cancellationToken).ConfigureAwait(false);
                return new CallToolResult { Content = [new TextContentBlock { Text = text }], IsError = failed };
            });
        return builder;
    }

    private static ToolRuntime Runtime(IServiceProvider services, out HttpContext context)
    {
        context = services.GetRequiredService<IHttpContextAccessor>().HttpContext
            ?? throw new InvalidOperationException("Qlaud's MCP server runs only inside an HTTP request.");
        var caller = QlaudKeyFeature.Of(context).Caller;
        return new ToolRuntime(services.GetRequiredService<QlaudTools>(), caller);
    }

    /// <summary>Marks that <see cref="AddQlaudMcpServer"/> ran, so <c>MapQlaud()</c> maps <c>/mcp</c>.</summary>
    internal sealed class QlaudMcpMarker;
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IDictionary<string, JsonElement>))]
internal sealed partial class McpJson : System.Text.Json.Serialization.JsonSerializerContext;
