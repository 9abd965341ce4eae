using System.Text;
using Qlaud.Batches;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Batches;

public sealed class BatchInputTests
{
    private static readonly Router Router = CreateRouter();

    private static Router CreateRouter()
    {
        var (catalog, errors) = CatalogBuilder.Build(new QlaudOptions(), static name => name == "OPENAI_API_KEY" ? "sk-test" : null);
        Assert.Empty(errors);
        return new Router(catalog!);
    }

    private static string Line(string customId, string model = "gpt-6.2-astra", string extra = "")
        => $$$"""{"custom_id":"{{{customId}}}","method":"POST","url":"/v1/chat/completions","body":{"model":"{{{model}}}"{{{extra}}},"messages":[{"role":"user","content":"hi"}]}}""";

    [Fact]
    public void ParseJsonl_ValidLinesWithCrlfAndBlankLines_KeepsOrderAndBodies()
    {
        string jsonl = Line("a") + "\r\n\r\n" + Line("b") + "\n";

        var (requests, errors) = BatchInput.ParseJsonl(Encoding.UTF8.GetBytes(jsonl), QlaudBatchEndpoint.ChatCompletions, Router, 100);

        Assert.Empty(errors);
        Assert.Equal(["a", "b"], requests.Select(static r => r.CustomId));
        Assert.StartsWith("{\"model\":\"gpt-6.2-astra\"", Encoding.UTF8.GetString(requests[0].Body.Span));
    }

    [Fact]
    public void ParseJsonl_EachKindOfBadLine_IsReportedWithItsLineNumberAndCode()
    {
        string jsonl = string.Join("\n",
            Line("ok"),
            "[1,2]",
            """{"method":"POST","url":"/v1/chat/completions","body":{}}""",
            Line("ok"),
            Line("get").Replace("\"POST\"", "\"GET\"", StringComparison.Ordinal),
            Line("url").Replace("/v1/chat/completions", "/v1/embeddings", StringComparison.Ordinal),
            Line("nomodel", model: "no-such-model"),
            Line("stream", extra: ",\"stream\":true"));

        var (_, errors) = BatchInput.ParseJsonl(Encoding.UTF8.GetBytes(jsonl), QlaudBatchEndpoint.ChatCompletions, Router, 100);

        Assert.Equal([2, 3, 4, 5, 6, 7, 8], errors.Select(static e => e.Line!.Value));
        Assert.Equal(["invalid_json_line", "missing_custom_id", "duplicate_custom_id", "invalid_method", "mismatched_url", "model_not_found", "invalid_request"],
            errors.Select(static e => e.Code));
        Assert.Equal("body.stream", errors[^1].Param);
    }

    [Fact]
    public void ParseJsonl_MoreRequestsThanAllowed_StopsWithTooManyRequests()
    {
        string jsonl = string.Join("\n", Enumerable.Range(0, 5).Select(static i => Line($"r{i}")));

        var (_, errors) = BatchInput.ParseJsonl(Encoding.UTF8.GetBytes(jsonl), QlaudBatchEndpoint.ChatCompletions, Router, 3);

        var error = Assert.Single(errors);
        Assert.Equal("too_many_requests", error.Code);
        Assert.Equal(4, error.Line);
    }

    [Fact]
    public void ParseJsonl_EmptyFile_IsAnError()
        => Assert.Equal("empty_file", Assert.Single(BatchInput.ParseJsonl("\n\n"u8, QlaudBatchEndpoint.ChatCompletions, Router, 10).Errors).Code);

    [Theory]
    [InlineData("24h", 86_400)]
    [InlineData("90s", 90)]
    [InlineData("30m", 1_800)]
    [InlineData("1s", 1)]
    public void TryParseWindow_DurationsUpTo24Hours_Parse(string text, int seconds)
    {
        Assert.True(QlaudBatches.TryParseWindow(text, out var window));
        Assert.Equal(TimeSpan.FromSeconds(seconds), window);
    }

    [Theory]
    [InlineData("25h")]
    [InlineData("0s")]
    [InlineData("24")]
    [InlineData("h")]
    [InlineData("1d")]
    [InlineData("-1h")]
    public void TryParseWindow_OtherText_IsRefused(string text) => Assert.False(QlaudBatches.TryParseWindow(text, out _));

    [Fact]
    public void BuiltInCatalog_OpenAIAndAnthropicRoutes_HaveAHalfPriceBatchTier()
    {
        // Image models have no batch endpoint in Qlaud (batches run chat and embeddings requests), so no batch tier either.
        var routes = Router.Catalog.Models.Where(static m => !m.IsImage).SelectMany(static m => m.Routes).Where(static r => r.Provider.Name is "openai" or "anthropic").ToList();

        Assert.NotEmpty(routes);
        Assert.All(routes, static r =>
        {
            Assert.Equal(50m, r.BatchDiscountPercent);
            Assert.Equal((long)Math.Ceiling(r.Price.OutputMicrosPerMTok / 2m), r.BatchPrice.OutputMicrosPerMTok);
            Assert.Equal((long)Math.Ceiling(r.Price.CacheReadMicrosPerMTok / 2m), r.BatchPrice.CacheReadMicrosPerMTok);
        });
        Assert.All(Router.Catalog.Models.SelectMany(static m => m.Routes).Where(static r => r.Provider.Name is not ("openai" or "anthropic")),
            static r => Assert.Equal(r.Price, r.BatchPrice));
    }
}
