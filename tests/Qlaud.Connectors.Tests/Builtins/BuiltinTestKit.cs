using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>Resolving a builtin from a real gateway and calling it as the tool loop does.</summary>
internal static class BuiltinTestKit
{
    /// <summary>The builtin <paramref name="name"/> registered in <paramref name="gateway"/>.</summary>
    public static BuiltinTool Tool(GatewayHost gateway, string name)
        => gateway.Services.GetServices<BuiltinTool>().Single(t => t.Name == name);

    /// <summary>Calls <paramref name="tool"/> with the JSON arguments <paramref name="arguments"/> for the default account.</summary>
    public static Task<BuiltinToolResult> CallAsync(BuiltinTool tool, string arguments, string? callId = "call_1")
    {
        using var document = JsonDocument.Parse(arguments);
        return tool.InvokeAsync(new BuiltinToolCall(document.RootElement.Clone(), QlaudCaller.InProcess, callId), CancellationToken.None);
    }

    /// <summary>Settings that blank the vendor environment variables <paramref name="variables"/>, so a gateway started with them
    /// has no key even where the machine's environment has one.</summary>
    public static Dictionary<string, string?> Unset(params string[] variables) => variables.ToDictionary(static v => v, static _ => (string?)"");

    /// <summary>The result text parsed as JSON.</summary>
    public static JsonElement Json(BuiltinToolResult result)
    {
        Assert.False(result.IsError, result.Text);
        using var document = JsonDocument.Parse(result.Text);
        return document.RootElement.Clone();
    }
}
