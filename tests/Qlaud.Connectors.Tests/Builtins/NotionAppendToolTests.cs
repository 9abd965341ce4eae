using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.BuiltinTestKit;

namespace Qlaud.Connectors.Tests.Builtins;

public sealed class NotionAppendToolTests
{
    private const string Name = "notion_append";

    private static Task<GatewayHost> StartAsync(FakeVendorServer notion, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:ApiKey"] = FakeNotion.Token,
            [$"Qlaud:Builtins:{Name}:BaseUrl"] = notion.Url,
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    [Fact]
    public async Task IsAvailable_KeyFromSettingsNotionTokenOrNotionApiKey_DisabledByEnabledFalse()
    {
        await using (var bare = await GatewayHost.StartAsync(settings: Unset("NOTION_TOKEN", "NOTION_API_KEY")))
        {
            Assert.False(Tool(bare, Name).IsAvailable);
        }

        foreach (string variable in new[] { "NOTION_TOKEN", "NOTION_API_KEY" })
        {
            await using var byVariable = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { [variable] = FakeNotion.Token });
            Assert.True(Tool(byVariable, Name).IsAvailable);
            Assert.Equal(0, Tool(byVariable, Name).PriceMicros);
        }

        await using var disabled = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["NOTION_TOKEN"] = FakeNotion.Token,
            [$"Qlaud:Builtins:{Name}:Enabled"] = "false",
            [$"Qlaud:Builtins:{Name}:PriceUsd"] = "0.000001",
        });
        Assert.False(Tool(disabled, Name).IsAvailable);
        Assert.Equal(1, Tool(disabled, Name).PriceMicros);
    }

    [Fact]
    public async Task Invoke_MarkdownishText_AppendsTheDocumentedBlocksToThePageOfAUrl()
    {
        await using var notion = await FakeVendorServer.StartAsync(FakeNotion.Behaviour);
        await using var gateway = await StartAsync(notion);
        const string Text = "# Release 1.2\nShipped today.\nThanks all.\n\n## Changes\n- faster search\n* fewer bugs\n1. deploy\n[ ] announce\n[x] tag\n> ship it\n```csharp\nvar x = 1;\n```\n---";

        var result = Json(await CallAsync(Tool(gateway, Name),
            $$"""{"page_id":"https://www.notion.so/acme/Cafe-Notes-{{FakeNotion.PageId.Replace("-", "", StringComparison.Ordinal)}}?pvs=4","text":{{System.Text.Json.JsonSerializer.Serialize(Text)}}}"""));

        Assert.Equal(FakeNotion.PageId, result.GetProperty("page_id").GetString());
        Assert.Equal(11, result.GetProperty("appended").GetInt32());
        Assert.Equal(11, result.GetProperty("block_ids").GetArrayLength());
        var request = Assert.Single(notion.Requests);
        Assert.Equal("PATCH", request.Method);
        Assert.Equal($"/v1/blocks/{FakeNotion.PageId}/children", request.RawTarget);
        Assert.Equal("Bearer " + FakeNotion.Token, request.Header("Authorization"));
        Assert.Equal("2026-03-11", request.Header("Notion-Version"));
        Assert.Equal("application/json", request.Header("Content-Type"));
        static string T(string type, string text, string extra = "")
            => "{\"object\":\"block\",\"type\":\"" + type + "\",\"" + type + "\":{\"rich_text\":[{\"type\":\"text\",\"text\":{\"content\":\"" + text + "\"}}]" + extra + "}}";
        string expected = "{\"children\":[" + string.Join(',',
            T("heading_1", "Release 1.2"),
            T("paragraph", "Shipped today.\\nThanks all."),
            T("heading_2", "Changes"),
            T("bulleted_list_item", "faster search"),
            T("bulleted_list_item", "fewer bugs"),
            T("numbered_list_item", "deploy"),
            T("to_do", "announce", ",\"checked\":false"),
            T("to_do", "tag", ",\"checked\":true"),
            T("quote", "ship it"),
            T("code", "var x = 1;", ",\"language\":\"c#\""),
            """{"object":"block","type":"divider","divider":{}}""") + "]}";
        Assert.Equal(expected, request.Body);
    }

    [Fact]
    public async Task Invoke_LongParagraph_SplitIntoRichTextsOf2000Characters_TooManyBlocksRefused()
    {
        await using var notion = await FakeVendorServer.StartAsync(FakeNotion.Behaviour);
        await using var gateway = await StartAsync(notion);
        var tool = Tool(gateway, Name);

        string longText = new('a', 4500);
        var result = await CallAsync(tool, $$"""{"page_id":"{{FakeNotion.PageId}}","text":"{{longText}}"}""");
        Assert.False(result.IsError, result.Text);
        var texts = Assert.Single(notion.Requests).Json().GetProperty("children")[0].GetProperty("paragraph").GetProperty("rich_text");
        Assert.Equal([2000, 2000, 500], texts.EnumerateArray().Select(t => t.GetProperty("text").GetProperty("content").GetString()!.Length));

        string many = string.Join("\n", Enumerable.Range(1, 101).Select(i => $"- item {i}"));
        var refused = await CallAsync(tool, $$"""{"page_id":"{{FakeNotion.PageId}}","text":"{{many.Replace("\n", "\\n", StringComparison.Ordinal)}}"}""");
        Assert.Equal("The text makes 101 blocks; Notion appends at most 100 at a time. Append it in parts.", refused.Text);
        Assert.True((await CallAsync(tool, """{"page_id":"not-a-page","text":"x"}""")).IsError);
        Assert.True((await CallAsync(tool, $$"""{"page_id":"{{FakeNotion.PageId}}","text":"  \n "}""")).IsError);
        Assert.Single(notion.Requests);
    }

    [Fact]
    public async Task Invoke_NotionErrors_AreErrorResults_429RetriedAnd5xxNot()
    {
        await using var notion = await FakeVendorServer.StartAsync(FakeNotion.Behaviour);
        await using var gateway = await StartAsync(notion);
        var tool = Tool(gateway, Name);

        var notShared = await CallAsync(tool, """{"page_id":"0123456789abcdef0123456789abcdef","text":"x"}""");
        Assert.Equal("Notion found no page 01234567-89ab-cdef-0123-456789abcdef that the operator's integration can see (object_not_found); the page must be shared with the integration.", notShared.Text);

        string args = $$"""{"page_id":"{{FakeNotion.PageId}}","text":"x"}""";
        notion.Enqueue(FakeNotion.Error(400, "validation_error", "body failed validation: body.children[0].code.language should be one of the supported languages."));
        Assert.Equal("Notion rejected the blocks (validation_error): body failed validation: body.children[0].code.language should be one of the supported languages..", (await CallAsync(tool, args)).Text);

        notion.Enqueue(VendorResponse.RateLimited(1, """{"object":"error","status":429,"code":"rate_limited","message":"You have been rate limited. Please try again in a few minutes."}"""));
        Assert.False((await CallAsync(tool, args)).IsError);
        int sent = notion.Requests.Count;

        notion.Enqueue(FakeNotion.Error(502, "internal_server_error", "Unexpected error occurred."));
        Assert.Equal("Notion failed (HTTP 502): Unexpected error occurred.; try again later.", (await CallAsync(tool, args)).Text);
        Assert.Equal(sent + 1, notion.Requests.Count);

        await using var wrongKey = await StartAsync(notion, new() { [$"Qlaud:Builtins:{Name}:ApiKey"] = "ntn_revoked" });
        Assert.Equal("The operator's Notion key was refused: API token is invalid.. This tool cannot be used until the operator fixes it.", (await CallAsync(Tool(wrongKey, Name), args)).Text);
    }
}
