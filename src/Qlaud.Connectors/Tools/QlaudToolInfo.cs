using System.Text.Json;

namespace Qlaud.Connectors;

/// <summary>A tool the model can use.</summary>
/// <param name="Name">The name the model sees (<c>web_search</c>, <c>lookup_order</c>, <c>linear__create_issue</c>).</param>
/// <param name="Type"><c>builtin</c>, <c>webhook</c> or <c>connector</c>.</param>
/// <param name="Description">What it does, for the model.</param>
/// <param name="InputSchema">The JSON schema of its input.</param>
public sealed record QlaudToolInfo(string Name, string Type, string Description, JsonElement InputSchema)
{
    /// <summary>The webhook tool's id (<c>tool_…</c>); the name for builtins and connector tools.</summary>
    public string Id { get; init; } = Name;

    /// <summary>The price of one call in micro-USD, markup included (builtins; 0 for webhook and connector tools).</summary>
    public long PriceMicros { get; init; }

    /// <summary>The connector of a connector tool.</summary>
    public string? ConnectorId { get; init; }

    /// <summary>The only end user a webhook tool is for; null for every end user.</summary>
    public string? EndUserId { get; init; }

    /// <summary>A webhook tool's URL.</summary>
    public string? Url { get; init; }

    /// <summary>When a webhook tool was registered (Unix ms).</summary>
    public long? CreatedAtMs { get; init; }
}

/// <summary>A webhook tool to register.</summary>
public sealed record NewWebhookTool
{
    /// <summary>The name the model sees: 1–64 of <c>a-z A-Z 0-9 _ -</c>, no <c>__</c>, not starting with <c>qlaud_</c>, not a builtin's.</summary>
    public required string Name { get; init; }

    /// <summary>What the tool does, for the model (at most 4,000 characters).</summary>
    public required string Description { get; init; }

    /// <summary>The JSON schema of its input: an object schema.</summary>
    public required JsonElement InputSchema { get; init; }

    /// <summary>The http(s) URL Qlaud POSTs each call to.</summary>
    public required string Url { get; init; }

    /// <summary>The only end user whose model sees the tool; null for every end user of the account.</summary>
    public string? EndUserId { get; init; }
}

/// <summary>A registered webhook tool and its signing secret (shown once).</summary>
/// <param name="Tool">The tool.</param>
/// <param name="SigningSecret"><c>whsec_…</c>: the key of the HMAC-SHA256 in each call's <c>Qlaud-Signature</c> header.</param>
public sealed record CreatedWebhookTool(QlaudToolInfo Tool, string SigningSecret);
