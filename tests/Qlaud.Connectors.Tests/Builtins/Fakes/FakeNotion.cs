using System.Text.Json;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>Notion's "Append block children" as documented (https://developers.notion.com/reference/patch-block-children):
/// <c>PATCH /v1/blocks/{block_id}/children</c> with <c>Authorization: Bearer</c> and a required <c>Notion-Version</c>; at most
/// 100 children, rich text contents of at most 2,000 characters; errors as <c>{"object":"error","status","code","message"}</c>.
/// It knows one page, shared with the integration.</summary>
public static class FakeNotion
{
    public const string Token = "ntn_TestIntegrationToken000000000000000000000";
    public const string PageId = "59833787-2cf9-4fdf-8782-e53db20768a5";
    public const string Version = "2026-03-11";

    private static readonly string[] Types = ["paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item", "to_do", "quote", "code", "divider"];

    public static VendorResponse Behaviour(VendorRequest request)
    {
        if (request.Header("Authorization") != "Bearer " + Token)
        {
            return Error(401, "unauthorized", "API token is invalid.");
        }

        if (request.Header("Notion-Version") is not { } version)
        {
            return Error(400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.");
        }

        if (version != Version)
        {
            return Error(400, "validation_error", $"Notion-Version header failed validation: unknown version {version}.");
        }

        const string Prefix = "/v1/blocks/";
        if (request.Method != "PATCH" || !request.Path.StartsWith(Prefix, StringComparison.Ordinal) || !request.Path.EndsWith("/children", StringComparison.Ordinal))
        {
            return Error(400, "invalid_request_url", "Invalid request URL.");
        }

        string id = request.Path[Prefix.Length..^"/children".Length];
        if (id != PageId)
        {
            return Error(404, "object_not_found", $"Could not find block with ID: {id}. Make sure the relevant pages and databases are shared with your integration.");
        }

        var children = request.Json().GetProperty("children");
        if (children.GetArrayLength() > 100)
        {
            return Error(400, "validation_error", $"body failed validation: body.children.length should be ≤ `100`, instead was `{children.GetArrayLength()}`.");
        }

        var results = new List<Dictionary<string, object>>();
        foreach (var child in children.EnumerateArray())
        {
            string type = child.GetProperty("type").GetString()!;
            if (child.GetProperty("object").GetString() != "block" || !Types.Contains(type) || !child.TryGetProperty(type, out var content))
            {
                return Error(400, "validation_error", $"body failed validation: unknown block type {type}.");
            }

            if (type != "divider")
            {
                foreach (var text in content.GetProperty("rich_text").EnumerateArray())
                {
                    if (text.GetProperty("text").GetProperty("content").GetString()!.Length > 2000)
                    {
                        return Error(400, "validation_error", "body failed validation: body.children[0].paragraph.rich_text[0].text.content.length should be ≤ `2000`.");
                    }
                }
            }

            results.Add(new Dictionary<string, object>
            {
                ["object"] = "block",
                ["id"] = Guid.NewGuid().ToString(),
                ["parent"] = new Dictionary<string, object> { ["type"] = "page_id", ["page_id"] = PageId },
                ["type"] = type,
                ["has_children"] = false,
                ["in_trash"] = false,
                [type] = JsonSerializer.Deserialize<JsonElement>(content.GetRawText()),
            });
        }

        return VendorResponse.Json(200, JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["object"] = "list",
            ["results"] = results,
            ["next_cursor"] = null,
            ["has_more"] = false,
            ["type"] = "block",
            ["block"] = new Dictionary<string, object>(),
        }));
    }

    public static VendorResponse Error(int status, string code, string message)
        => VendorResponse.Json(status, JsonSerializer.Serialize(new { @object = "error", status, code, message, request_id = "2b1d4f3e-0000-4000-8000-000000000000" }));
}
