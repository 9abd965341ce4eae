using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Builtins;
using Qlaud.Connectors.Mcp;
using Qlaud.Connectors.Vault;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tools;

/// <summary>The service behind <see cref="IQlaudTools"/> and the tool loop's builtin and webhook tools: which tools a caller has,
/// webhook tool registration, and running a builtin or webhook call on the bill.</summary>
internal sealed partial class QlaudTools(QlaudConnectors connectors, McpConnector mcp, ToolIndex index, IOptions<ConnectorsOptions> options,
    IEnumerable<BuiltinTool> builtins, IOptions<BuiltinsOptions> builtinOptions, IDbContextFactory<QlaudDbContext> factory, CredentialVault vault,
    WebhookDispatcher webhooks, ToolBilling billing, ToolSearch search, TimeProvider time, Builtins.WebFetch.IHostResolver resolver) : IQlaudTools
{
    private readonly BuiltinTool[] _builtins = [.. builtins.OrderBy(static b => b.Name, StringComparer.Ordinal)];

    public QlaudConnectors Connectors => connectors;

    public McpConnector Mcp => mcp;

    public ToolIndex Index => index;

    public ConnectorsOptions Options => options.Value;

    public ToolBilling Billing => billing;

    /// <summary>The ranking of <c>qlaud_search_tools</c>.</summary>
    public ToolSearch Search => search;

    /// <summary>The builtins the account may use here: available (configured, enabled) and not denied.</summary>
    public IReadOnlyList<BuiltinTool> BuiltinsFor(string accountId)
    {
        var settings = builtinOptions.Value;
        var denied = settings.Accounts.TryGetValue(accountId, out var account) ? account.Deny : null;
        var list = new List<BuiltinTool>(_builtins.Length);
        foreach (var tool in _builtins)
        {
            if (tool.IsAvailable && !settings.Deny.Contains(tool.Name, StringComparer.Ordinal) && denied?.Contains(tool.Name, StringComparer.Ordinal) != true)
            {
                list.Add(tool);
            }
        }

        return list;
    }

    /// <summary>The webhook tools the caller's model may call: the account's tools for every end user and the end user's own.</summary>
    public async Task<IReadOnlyList<WebhookToolEntity>> WebhooksForAsync(QlaudCaller caller, string endUser, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.WebhookTools.AsNoTracking()
            .Where(t => t.AccountId == caller.AccountId && (t.EndUserId == "" || t.EndUserId == endUser))
            .OrderBy(static t => t.Name).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<QlaudToolInfo>> ListToolsAsync(QlaudCaller caller, string? endUserId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        string endUser = QlaudConnectors.EndUserFor(caller, endUserId);
        var list = new List<QlaudToolInfo>();
        foreach (var builtin in BuiltinsFor(caller.AccountId))
        {
            list.Add(Info(builtin));
        }

        await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            var query = db.WebhookTools.AsNoTracking().Where(t => t.AccountId == caller.AccountId);
            if (!caller.SeesAccount || endUserId is not null)
            {
                query = query.Where(t => t.EndUserId == "" || t.EndUserId == endUser);
            }

            foreach (var tool in await query.OrderBy(static t => t.Name).ToListAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(Info(tool));
            }
        }

        var runtime = new ToolRuntime(this, caller with { EndUserId = endUser.Length == 0 ? null : endUser });
        foreach (var (connector, tool) in await runtime.ConnectorToolsAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new QlaudToolInfo(tool.QualifiedName, "connector", tool.Description, tool.InputSchema) { ConnectorId = connector.Id });
        }

        return list;
    }

    public async Task<QlaudToolInfo?> GetToolAsync(QlaudCaller caller, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(id);
        if (BuiltinsFor(caller.AccountId).FirstOrDefault(b => b.Name == id) is { } builtin)
        {
            return Info(builtin);
        }

        var tool = await FindWebhookAsync(caller, id, cancellationToken).ConfigureAwait(false);
        return tool is null ? null : Info(tool);
    }

    public async Task<CreatedWebhookTool> CreateWebhookToolAsync(QlaudCaller caller, NewWebhookTool tool, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(tool);
        if (!caller.SeesAccount)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.Permission, "Registering tools needs the account's master key or an admin-scope key.", "insufficient_scope"));
        }

        string endUser = QlaudConnectors.EndUserFor(caller, tool.EndUserId);
        if (!ToolName().IsMatch(tool.Name) || tool.Name.Contains("__", StringComparison.Ordinal) || tool.Name.StartsWith("qlaud_", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid("'name' must be 1-64 characters of a-z, A-Z, 0-9, '_' and '-', without '__' and not starting with 'qlaud_'.", "invalid_tool_name");
        }

        if (_builtins.Any(b => string.Equals(b.Name, tool.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw Invalid($"'{tool.Name}' is the name of a builtin tool; choose another.", "tool_name_taken");
        }

        if (string.IsNullOrWhiteSpace(tool.Description) || tool.Description.Length > 4000)
        {
            throw Invalid("'description' is required, at most 4000 characters: it tells the model what the tool does.");
        }

        if (tool.InputSchema.ValueKind != JsonValueKind.Object
            || (tool.InputSchema.TryGetProperty("type", out var type) && (type.ValueKind != JsonValueKind.String || type.GetString() != "object")))
        {
            throw Invalid("'input_schema' must be a JSON schema object with \"type\": \"object\".");
        }

        if (!Uri.TryCreate(tool.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || tool.Url.Length > 2048)
        {
            throw Invalid("'url' must be an absolute http or https URL.");
        }

        if (await SsrfGuard.CheckAsync(url, options.Value.AllowPrivateNetworks, cancellationToken, resolver.ResolveAsync).ConfigureAwait(false) is { } refused)
        {
            throw Invalid($"'url' {refused}.", "tool_url_refused");
        }

        string secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', 'A').Replace('/', 'B');
        var entity = new WebhookToolEntity
        {
            Id = "tool_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
            AccountId = caller.AccountId,
            EndUserId = endUser,
            Name = tool.Name,
            Description = tool.Description,
            InputSchemaJson = tool.InputSchema.GetRawText(),
            Url = url.AbsoluteUri,
            SecretCipher = vault.ProtectText(caller.AccountId, secret),
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (await db.WebhookTools.AnyAsync(t => t.AccountId == caller.AccountId && t.Name == tool.Name, cancellationToken).ConfigureAwait(false))
        {
            throw Invalid($"The account already has a tool named '{tool.Name}'.", "tool_name_taken");
        }

        db.WebhookTools.Add(entity);
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            throw Invalid($"The account already has a tool named '{tool.Name}'.", "tool_name_taken"); // a concurrent registration won
        }

        return new CreatedWebhookTool(Info(entity), secret);
    }

    public async Task<bool> DeleteWebhookToolAsync(QlaudCaller caller, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(id);
        if (!caller.SeesAccount)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.Permission, "Deleting tools needs the account's master key or an admin-scope key.", "insufficient_scope"));
        }

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.WebhookTools.Where(t => t.AccountId == caller.AccountId && t.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<IReadOnlyList<AIFunction>> GetFunctionsAsync(QlaudCaller caller, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var tools = await new ToolRuntime(this, caller).DirectToolsAsync(cancellationToken).ConfigureAwait(false);
        return [.. tools.OfType<AIFunction>()];
    }

    /// <summary>Runs a builtin call on the bill: reserved before, settled when it succeeded, released when it failed.</summary>
    public async Task<(bool Failed, string Text)> RunBuiltinAsync(BuiltinTool tool, QlaudCaller caller, JsonElement arguments, string? callId, CancellationToken cancellationToken)
    {
        long price = tool.PriceMicros;
        var (reservation, refusal) = await billing.ReserveAsync(caller, tool.Name, price, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return (true, refusal);
        }

        BuiltinToolResult result;
        try
        {
            result = await tool.InvokeAsync(new BuiltinToolCall(arguments, caller, callId), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            billing.Release(reservation);
            return (true, $"The tool {tool.Name} failed: {ex.Message}");
        }
        catch
        {
            billing.Release(reservation);
            throw;
        }

        if (result.IsError)
        {
            billing.Release(reservation);
        }
        else
        {
            billing.Settle(reservation, tool.Name, price, callId);
        }

        return (result.IsError, result.Text);
    }

    /// <summary>Runs a webhook call: POSTed, signed, to the app's URL; counted in the ledger at no charge.</summary>
    public async Task<(bool Failed, string Text)> RunWebhookAsync(WebhookToolEntity tool, QlaudCaller caller, JsonElement arguments, string? callId, CancellationToken cancellationToken)
    {
        var (reservation, refusal) = await billing.ReserveAsync(caller, tool.Name, 0, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return (true, refusal);
        }

        string? secret = vault.UnprotectText(tool.AccountId, tool.SecretCipher);
        if (secret is null)
        {
            billing.Release(reservation);
            return (true, $"The tool {tool.Name} cannot be called: its signing secret cannot be decrypted (register it again).");
        }

        var (failed, text) = await webhooks.CallAsync(tool, secret, caller, arguments, callId, cancellationToken).ConfigureAwait(false);
        if (failed)
        {
            billing.Release(reservation);
        }
        else
        {
            billing.Settle(reservation, tool.Name, 0, callId);
        }

        return (failed, text);
    }

    /// <summary>A connector tool call that ran, counted in the ledger at no charge (reserved at zero, so a refused key does not run it).</summary>
    public async Task<(bool Failed, string Text)> RunCountedAsync(string tool, QlaudCaller caller, string? callId, Func<Task<(bool Failed, string Text)>> call)
    {
        var (reservation, refusal) = await billing.ReserveAsync(caller, tool, 0, CancellationToken.None).ConfigureAwait(false);
        if (refusal is not null)
        {
            return (true, refusal);
        }

        (bool Failed, string Text) result;
        try
        {
            result = await call().ConfigureAwait(false);
        }
        catch
        {
            billing.Release(reservation);
            throw;
        }

        if (result.Failed)
        {
            billing.Release(reservation);
        }
        else
        {
            billing.Settle(reservation, tool, 0, callId);
        }

        return result;
    }

    private async Task<WebhookToolEntity?> FindWebhookAsync(QlaudCaller caller, string id, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var tool = await db.WebhookTools.AsNoTracking().SingleOrDefaultAsync(t => t.AccountId == caller.AccountId && t.Id == id, cancellationToken).ConfigureAwait(false);
        return tool is null || caller.SeesAccount || tool.EndUserId.Length == 0 || tool.EndUserId == caller.EndUserId ? tool : null;
    }

    private QlaudToolInfo Info(BuiltinTool tool) => new(tool.Name, "builtin", tool.Description, tool.InputSchema) { PriceMicros = billing.Charge(tool.PriceMicros) };

    private static QlaudToolInfo Info(WebhookToolEntity tool)
    {
        using var schema = JsonDocument.Parse(tool.InputSchemaJson);
        return new QlaudToolInfo(tool.Name, "webhook", tool.Description, schema.RootElement.Clone())
        {
            Id = tool.Id,
            EndUserId = tool.EndUserId.Length == 0 ? null : tool.EndUserId,
            Url = tool.Url,
            CreatedAtMs = tool.CreatedAtMs,
        };
    }

    private static QlaudException Invalid(string message, string? code = null) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message, code));

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex ToolName();
}
