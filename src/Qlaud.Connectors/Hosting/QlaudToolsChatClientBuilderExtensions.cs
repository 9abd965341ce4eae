using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaud.Connectors;
using Qlaud.Connectors.Mcp;
using Qlaud.Connectors.Tools;
using Qlaud.Metering;

namespace Microsoft.Extensions.AI;

/// <summary>Connector tools for an app's own <see cref="IChatClient"/> pipeline.</summary>
public static class QlaudToolsChatClientBuilderExtensions
{
    /// <summary>
    /// Adds the <c>qlaud_*</c> meta-tools (search the connectors' tools, get their schemas, execute them with the end user's own
    /// connections, manage connections) to every request, bound to the call's end user. Put <c>UseFunctionInvocation()</c> after
    /// it so the tools are executed: <c>builder.UseQlaudTools().UseFunctionInvocation()</c>.
    /// </summary>
    /// <param name="builder">The pipeline builder; its services must have <c>AddQlaud()</c> with connectors.</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UseQlaudTools(this ChatClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use(static (inner, services) => new QlaudToolsChatClient(inner,
            services.GetRequiredService<QlaudTools>(), services.GetRequiredService<QlaudCallerResolver>()));
    }
}
