using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.Notion;

/// <summary><c>notion_append</c>: appends text, as paragraph, heading, list, to-do, quote, code and divider blocks, to a Notion
/// page with the operator's integration token.</summary>
/// <remarks>
/// API reference: https://developers.notion.com/reference/patch-block-children (<c>PATCH /v1/blocks/{block_id}/children</c> with
/// <c>{"children":[…]}</c>, at most 100 blocks a request; a page id is a block id), https://developers.notion.com/reference/versioning
/// (<c>Notion-Version</c> is required) and https://developers.notion.com/reference/status-codes (errors as <c>{"object":"error",
/// "status","code","message"}</c>: 401 <c>unauthorized</c>, 404 <c>object_not_found</c> when the page is not shared with the
/// integration, 400 <c>validation_error</c>, 429 <c>rate_limited</c> with <c>Retry-After</c>). Appending is not idempotent, so
/// only 429s are retried.
/// </remarks>
internal sealed class NotionAppendTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<NotionAppendOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<NotionAppendTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "notion_append";

    /// <summary>The API's published base URL.</summary>
    public const string DefaultBaseUrl = "https://api.notion.com/";

    /// <summary>The most blocks Notion appends in one request.</summary>
    public const int MaxBlocks = 100;

    private const string Vendor = "Notion";

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "page_id":{"type":"string","description":"The page's id (32 hex digits, with or without dashes) or its Notion URL."},
          "text":{"type":"string","description":"What to append, markdown-ish: '# ', '## ', '### ' headings; '- ' bullets; '1. ' numbered items; '[ ] ' / '[x] ' to-dos; '> ' quotes; ``` code fences; '---' dividers; other lines are paragraphs (a blank line starts a new one)."}},
         "required":["page_id","text"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Append text to the end of a Notion page (shared with the operator's Notion integration), as paragraphs, headings, lists, to-dos, quotes and code blocks. Returns how many blocks were added.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable => options.CurrentValue.Enabled && Key is not null;

    /// <inheritdoc/>
    /// <remarks>Notion's API has no per-call price: 0 unless <c>PriceUsd</c> is set.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, 0);

    private string? Key => VendorHttp.Key(options.CurrentValue.ApiKey, configuration, "NOTION_TOKEN", "NOTION_API_KEY");

    /// <summary>The page id in its dashed form, from a bare or dashed id or a Notion URL (which ends with the id), or null.</summary>
    internal static string? PageId(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        string text = value.Trim();
        int query = text.IndexOfAny(['?', '#']);
        string compact = (query >= 0 ? text[..query] : text).TrimEnd('/').Replace("-", "", StringComparison.Ordinal);
        if (compact.Length < 32 || compact.AsSpan(compact.Length - 32).ContainsAnyExcept("0123456789abcdefABCDEF"))
        {
            return null;
        }

        string hex = compact[^32..].ToLowerInvariant();
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || Key is not { } key)
        {
            return BuiltinToolResult.Error(ToolName + " is not configured on this gateway.");
        }

        string? pageId = PageId(call.String("page_id"));
        if (pageId is null)
        {
            return BuiltinToolResult.Error("Give \"page_id\": the Notion page's id (32 hex digits) or its URL.");
        }

        string? text = call.String("text");
        var blocks = string.IsNullOrWhiteSpace(text) ? [] : NotionBlocks.Parse(text);
        if (blocks.Count == 0)
        {
            return BuiltinToolResult.Error("Give \"text\": what to append to the page.");
        }

        if (blocks.Count > MaxBlocks)
        {
            return BuiltinToolResult.Error($"The text makes {blocks.Count} blocks; Notion appends at most {MaxBlocks} at a time. Append it in parts.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Patch, new Uri(VendorHttp.BaseUri(settings.BaseUrl, DefaultBaseUrl), $"v1/blocks/{pageId}/children"))
        {
            Content = VendorHttp.JsonContent(writer =>
            {
                writer.WriteStartObject();
                writer.WriteStartArray("children");
                foreach (var block in blocks)
                {
                    NotionBlocks.Write(writer, block);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.TryAddWithoutValidation("Notion-Version", settings.NotionVersion);
        var client = httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName));
        var reply = await VendorHttp.SendAsync(client, request, settings.TimeoutSeconds, Vendor, cancellationToken).ConfigureAwait(false);
        if (reply.Failure is { } failure)
        {
            VendorHttp.LogFailed(logger, ToolName, 0);
            return BuiltinToolResult.Error(failure);
        }

        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            string? message = VendorHttp.JsonString(reply.Body, "message");
            return VendorHttp.JsonString(reply.Body, "code") switch
            {
                "object_not_found" => BuiltinToolResult.Error($"Notion found no page {pageId} that the operator's integration can see (object_not_found); the page must be shared with the integration."),
                "restricted_resource" => BuiltinToolResult.Error($"The operator's Notion integration may not change this page (restricted_resource){VendorHttp.Quote(message)}."),
                "validation_error" => BuiltinToolResult.Error($"Notion rejected the blocks (validation_error){VendorHttp.Quote(message)}."),
                _ => VendorHttp.StatusError(Vendor, reply, message, timeProvider),
            };
        }

        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            var ids = new List<string>();
            if (document.RootElement.TryGetProperty("results", out var results) && results.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in results.EnumerateArray())
                {
                    if (block.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                    {
                        ids.Add(id.GetString()!);
                    }
                }
            }

            return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("page_id", pageId);
                writer.WriteNumber("appended", ids.Count);
                writer.WriteStartArray("block_ids");
                foreach (string id in ids)
                {
                    writer.WriteStringValue(id);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }));
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("Notion answered with something that is not JSON; check the page before retrying.");
        }
    }
}
