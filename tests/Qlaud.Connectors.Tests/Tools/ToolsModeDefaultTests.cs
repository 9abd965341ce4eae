using System.Net;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>The default <c>tools_mode</c> on a model that cannot call tools (the offline <c>qlaud/echo</c>): the turn runs without
/// the loop; a mode the turn asks for explicitly is refused by routing as before.</summary>
public sealed class ToolsModeDefaultTests
{
    [Fact]
    public async Task DefaultDynamicMode_OnAModelWithoutTools_TakesThePlainTurn()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Connectors:DefaultToolsMode"] = "dynamic" });
        using var http = gateway.Http();
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"qlaud/echo"}""");
        string id = thread.GetProperty("id").GetString()!;

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{id}/messages", """{"max_tokens":64,"content":"hello there"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text", reply.GetProperty("content")[0].GetProperty("type").GetString());

        var (explicitStatus, error) = await http.PostJsonAsync($"/v1/threads/{id}/messages", """{"max_tokens":64,"tools_mode":"dynamic","content":"hello again"}""");
        Assert.Equal(HttpStatusCode.BadRequest, explicitStatus);
        Assert.Contains("tools", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
