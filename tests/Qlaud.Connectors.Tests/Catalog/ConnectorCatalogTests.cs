namespace Qlaud.Connectors.Tests.Catalog;

public sealed class ConnectorCatalogTests
{
    [Fact]
    public void BuiltIn_HoldsAtLeast35VendorsWithAPublishedRemoteEndpointAndItsSource()
    {
        var (catalog, errors) = ConnectorCatalog.Build(new ConnectorsOptions());

        Assert.Empty(errors);
        Assert.True(catalog!.All.Count >= 35, $"{catalog.All.Count} connectors");
        Assert.Equal(catalog.All.Count, catalog.All.Select(static c => c.Id).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (var connector in catalog.All)
        {
            Assert.Equal("https", connector.Url!.Scheme);
            Assert.False(string.IsNullOrWhiteSpace(connector.Source), connector.Id);
            Assert.False(string.IsNullOrWhiteSpace(connector.Description), connector.Id);
            Assert.NotEmpty(connector.Categories);
            Assert.True(connector.BuiltIn);
            Assert.DoesNotContain(ConnectorTool.Separator, connector.Id, StringComparison.Ordinal);
        }

        // The vendors qlaud.ai lists that publish a remote MCP server.
        foreach (var id in (string[])["linear", "github", "clickup", "asana", "notion", "stripe", "sentry", "hubspot", "salesforce", "intercom", "vercel", "supabase", "paypal", "plaid"])
        {
            Assert.True(catalog.TryGet(id, out _), id);
        }
    }

    [Fact]
    public void Configuration_OverridesABuiltInEntryFieldByFieldAndAddsServers()
    {
        var options = new ConnectorsOptions
        {
            Servers =
            {
                ["linear"] = new ConnectorServerOptions { Url = "http://127.0.0.1:9/mcp", Auth = new ConnectorAuthOptions { Kind = "api_key" } },
                ["acme"] = new ConnectorServerOptions { Url = "https://mcp.acme.test/mcp", Name = "Acme", Description = "Acme tickets", Auth = new ConnectorAuthOptions { Kind = "api_key", Header = "X-Api-Key" } },
                ["local"] = new ConnectorServerOptions { Command = "acme-mcp", Arguments = ["--stdio"] },
                ["notion"] = new ConnectorServerOptions { Enabled = false },
            },
        };

        var (catalog, errors) = ConnectorCatalog.Build(options);

        Assert.Empty(errors);
        Assert.True(catalog!.TryGet("linear", out var linear));
        Assert.Equal("http://127.0.0.1:9/mcp", linear.Url!.AbsoluteUri);
        Assert.Equal(ConnectorAuthKind.ApiKey, linear.Auth.Kind);
        Assert.Equal("Authorization", linear.Auth.Header);
        Assert.Equal("Bearer ", linear.Auth.Prefix);
        Assert.Equal("Linear", linear.Name); // kept from the built-in entry
        Assert.True(catalog.TryGet("acme", out var acme));
        Assert.Equal(("X-Api-Key", ""), (acme.Auth.Header, acme.Auth.Prefix));
        Assert.Equal("configuration", acme.Source);
        Assert.True(catalog.TryGet("local", out var local));
        Assert.Equal(ConnectorTransport.Stdio, local.Transport);
        Assert.Null(local.Url);
        Assert.False(catalog.TryGet("notion", out _));
    }

    [Fact]
    public void AllowAndDeny_ApplyPerAccount()
    {
        var options = new ConnectorsOptions
        {
            Deny = ["paypal"],
            Accounts = { ["acct-small"] = new ConnectorAccessOptions { Allow = ["linear", "github", "paypal"], Deny = ["github"] } },
        };

        var (catalog, _) = ConnectorCatalog.Build(options);

        Assert.True(catalog!.IsAllowed("default", "notion"));
        Assert.False(catalog.IsAllowed("default", "paypal"));
        Assert.Equal(["linear"], catalog.For("acct-small").Select(static c => c.Id));
        Assert.Null(catalog.Find("acct-small", "notion"));
    }

    [Fact]
    public void InvalidConfiguration_IsRefusedWithTheKeyItConcerns()
    {
        var options = new ConnectorsOptions
        {
            Allow = ["no-such-connector"],
            Servers =
            {
                ["bad"] = new ConnectorServerOptions { Url = "ftp://example.test" },
                ["nourl"] = new ConnectorServerOptions { Name = "No URL" },
                ["linear"] = new ConnectorServerOptions { Auth = new ConnectorAuthOptions { Kind = "magic" } },
            },
        };

        var result = new ConnectorsOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, static f => f.StartsWith("Qlaud:Connectors:Servers:bad:Url", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, static f => f.StartsWith("Qlaud:Connectors:Servers:nourl:Url is required", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, static f => f.StartsWith("Qlaud:Connectors:Servers:linear:Auth:Kind", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, static f => f.StartsWith("Qlaud:Connectors:Allow:0", StringComparison.Ordinal));
    }
}
