using System.Text.Json;

namespace Qlaud.Connectors;

/// <summary>The connector catalog: the built-in file merged with <c>Qlaud:Connectors:Servers</c>, and the allow and deny lists.</summary>
/// <remarks>Immutable once built; <see cref="Build"/> reports every configuration problem with the key it concerns.</remarks>
internal sealed class ConnectorCatalog
{
    private readonly Dictionary<string, ConnectorDefinition> _byId;
    private readonly HashSet<string> _allow;
    private readonly HashSet<string> _deny;
    private readonly Dictionary<string, (HashSet<string> Allow, HashSet<string> Deny)> _accounts;

    private ConnectorCatalog(List<ConnectorDefinition> connectors, ConnectorsOptions options)
    {
        All = connectors;
        _byId = connectors.ToDictionary(static c => c.Id, StringComparer.OrdinalIgnoreCase);
        _allow = new HashSet<string>(options.Allow, StringComparer.OrdinalIgnoreCase);
        _deny = new HashSet<string>(options.Deny, StringComparer.OrdinalIgnoreCase);
        _accounts = options.Accounts.ToDictionary(static a => a.Key,
            static a => (new HashSet<string>(a.Value.Allow, StringComparer.OrdinalIgnoreCase), new HashSet<string>(a.Value.Deny, StringComparer.OrdinalIgnoreCase)),
            StringComparer.Ordinal);
    }

    /// <summary>Every connector, in catalog order (built-in first, then configured additions by id).</summary>
    public IReadOnlyList<ConnectorDefinition> All { get; }

    /// <summary>The connector with this id, whether or not an account may use it.</summary>
    public bool TryGet(string id, out ConnectorDefinition connector) => _byId.TryGetValue(id, out connector!);

    /// <summary>Whether <paramref name="accountId"/> may use <paramref name="connectorId"/>.</summary>
    public bool IsAllowed(string accountId, string connectorId)
    {
        if (!_byId.ContainsKey(connectorId) || _deny.Contains(connectorId))
        {
            return false;
        }

        if (_accounts.TryGetValue(accountId, out var account))
        {
            if (account.Deny.Contains(connectorId))
            {
                return false;
            }

            if (account.Allow.Count > 0)
            {
                return account.Allow.Contains(connectorId);
            }
        }

        return _allow.Count == 0 || _allow.Contains(connectorId);
    }

    /// <summary>The connector <paramref name="id"/> when the account may use it.</summary>
    public ConnectorDefinition? Find(string accountId, string id) => IsAllowed(accountId, id) ? _byId[id] : null;

    /// <summary>The connectors an account may use, in catalog order.</summary>
    public IEnumerable<ConnectorDefinition> For(string accountId)
    {
        foreach (var connector in All)
        {
            if (IsAllowed(accountId, connector.Id))
            {
                yield return connector;
            }
        }
    }

    /// <summary>Builds the catalog; null and the problems when the configuration is invalid.</summary>
    public static (ConnectorCatalog? Catalog, List<string> Errors) Build(ConnectorsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var connectors = new List<ConnectorDefinition>();
        if (options.UseBuiltInCatalog)
        {
            foreach (var entry in LoadBuiltIn().Connectors)
            {
                connectors.Add(FromEntry(entry));
            }
        }

        foreach (var (id, server) in options.Servers.OrderBy(static s => s.Key, StringComparer.Ordinal))
        {
            string key = $"{ConnectorsOptions.SectionName}:Servers:{id}";
            int index = connectors.FindIndex(c => string.Equals(c.Id, id, StringComparison.OrdinalIgnoreCase));
            if (server.Enabled == false)
            {
                if (index >= 0)
                {
                    connectors.RemoveAt(index);
                }

                continue;
            }

            var merged = Merge(index >= 0 ? connectors[index] : null, id, server, key, errors);
            if (merged is null)
            {
                continue;
            }

            if (index >= 0)
            {
                connectors[index] = merged;
            }
            else
            {
                connectors.Add(merged);
            }
        }

        var ids = new HashSet<string>(connectors.Select(static c => c.Id), StringComparer.OrdinalIgnoreCase);
        CheckIds(options.Allow, $"{ConnectorsOptions.SectionName}:Allow", ids, errors);
        CheckIds(options.Deny, $"{ConnectorsOptions.SectionName}:Deny", ids, errors);
        foreach (var (account, access) in options.Accounts)
        {
            CheckIds(access.Allow, $"{ConnectorsOptions.SectionName}:Accounts:{account}:Allow", ids, errors);
            CheckIds(access.Deny, $"{ConnectorsOptions.SectionName}:Accounts:{account}:Deny", ids, errors);
        }

        return errors.Count > 0 ? (null, errors) : (new ConnectorCatalog(connectors, options), errors);
    }

    /// <summary>The built-in catalog file shipped in the assembly.</summary>
    internal static ConnectorCatalogFile LoadBuiltIn()
    {
        using var stream = typeof(ConnectorCatalog).Assembly.GetManifestResourceStream("Qlaud.Connectors.Catalog.connectors.json")
            ?? throw new InvalidOperationException("The built-in connector catalog is missing from the assembly.");
        return JsonSerializer.Deserialize(stream, ConnectorCatalogJsonContext.Default.ConnectorCatalogFile)
            ?? throw new InvalidOperationException("The built-in connector catalog is empty.");
    }

    private static ConnectorDefinition FromEntry(ConnectorCatalogFile.Entry entry)
    {
        var kind = ParseKind(entry.Auth.Kind) ?? throw new InvalidOperationException($"Built-in connector '{entry.Id}' has an unknown auth kind '{entry.Auth.Kind}'.");
        var transport = ParseTransport(entry.Transport) ?? throw new InvalidOperationException($"Built-in connector '{entry.Id}' has an unknown transport '{entry.Transport}'.");
        var auth = DefaultAuth(kind, entry.Auth.Header, entry.Auth.Prefix) with
        {
            RequiresRegisteredClient = entry.Auth.ClientRegistration == "preregistered",
        };
        return new ConnectorDefinition(entry.Id, entry.Name, entry.Description, entry.Categories, transport, new Uri(entry.Url), auth)
        {
            Documentation = entry.Documentation,
            Source = entry.Source,
            BuiltIn = true,
        };
    }

    private static ConnectorDefinition? Merge(ConnectorDefinition? existing, string id, ConnectorServerOptions server, string key, List<string> errors)
    {
        int before = errors.Count;
        if (id.Length is 0 or > 64 || !id.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || id.Contains("__", StringComparison.Ordinal))
        {
            errors.Add($"{key}: a connector id is 1 to 64 letters, digits, '-' or '_' (no '__').");
        }

        ConnectorTransport? transport = server.Transport is null ? null : ParseTransport(server.Transport);
        if (server.Transport is not null && transport is null)
        {
            errors.Add($"{key}:Transport must be streamable_http, sse or stdio.");
        }

        Uri? url = existing?.Url;
        if (server.Url is not null)
        {
            if (!Uri.TryCreate(server.Url, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https"))
            {
                errors.Add($"{key}:Url must be an absolute http or https URL.");
            }
        }

        string? command = server.Command ?? existing?.Command;
        transport ??= server.Command is not null && server.Url is null ? ConnectorTransport.Stdio : existing?.Transport ?? ConnectorTransport.StreamableHttp;
        if (transport == ConnectorTransport.Stdio && string.IsNullOrWhiteSpace(command))
        {
            errors.Add($"{key}:Command is required for a stdio server.");
        }
        else if (transport != ConnectorTransport.Stdio && url is null && errors.Count == before)
        {
            errors.Add($"{key}:Url is required (or Command for a local stdio server).");
        }

        var auth = existing?.Auth ?? DefaultAuth(ConnectorAuthKind.None, null, null);
        if (server.Auth is { } a)
        {
            var kind = a.Kind is null ? auth.Kind : ParseKind(a.Kind);
            if (kind is null)
            {
                errors.Add($"{key}:Auth:Kind must be none, api_key, bearer or oauth.");
                kind = ConnectorAuthKind.None;
            }

            bool kindChanged = kind != auth.Kind;
            auth = DefaultAuth(kind.Value, a.Header ?? (kindChanged ? null : auth.Header), a.Prefix ?? (kindChanged ? null : auth.Prefix)) with
            {
                ClientId = a.ClientId ?? auth.ClientId,
                ClientSecret = a.ClientSecret ?? auth.ClientSecret,
                Scopes = a.Scopes is { } scopes ? scopes : auth.Scopes,
                RequiresRegisteredClient = auth.RequiresRegisteredClient,
            };
            if (auth.Header.Length == 0 || !auth.Header.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                errors.Add($"{key}:Auth:Header must be a header name.");
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        return new ConnectorDefinition(existing?.Id ?? id, server.Name ?? existing?.Name ?? id, server.Description ?? existing?.Description ?? "",
            server.Categories ?? existing?.Categories ?? [], transport.Value, transport == ConnectorTransport.Stdio ? null : url, auth)
        {
            Documentation = server.Documentation ?? existing?.Documentation,
            Source = existing?.Source ?? "configuration",
            Command = transport == ConnectorTransport.Stdio ? command : null,
            Arguments = server.Arguments ?? existing?.Arguments ?? [],
            BuiltIn = existing?.BuiltIn ?? false,
        };
    }

    private static ConnectorAuth DefaultAuth(ConnectorAuthKind kind, string? header, string? prefix) => kind switch
    {
        ConnectorAuthKind.ApiKey => new(kind, header ?? "Authorization", prefix ?? (header is null or "Authorization" ? "Bearer " : "")),
        _ => new(kind, "Authorization", "Bearer "),
    };

    private static void CheckIds(List<string> list, string key, HashSet<string> ids, List<string> errors)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (!ids.Contains(list[i]))
            {
                errors.Add($"{key}:{i} names no connector of the catalog ('{list[i]}').");
            }
        }
    }

    internal static ConnectorAuthKind? ParseKind(string value) => value switch
    {
        "none" => ConnectorAuthKind.None,
        "api_key" => ConnectorAuthKind.ApiKey,
        "bearer" => ConnectorAuthKind.Bearer,
        "oauth" => ConnectorAuthKind.OAuth,
        _ => null,
    };

    private static ConnectorTransport? ParseTransport(string value) => value switch
    {
        "streamable_http" or "http" => ConnectorTransport.StreamableHttp,
        "sse" => ConnectorTransport.Sse,
        "stdio" => ConnectorTransport.Stdio,
        _ => null,
    };
}
