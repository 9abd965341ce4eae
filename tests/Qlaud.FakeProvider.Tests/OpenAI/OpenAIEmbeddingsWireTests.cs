using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI.Embeddings;

namespace Qlaud.FakeProvider.Tests.OpenAI;

/// <summary>The fake's <c>POST /v1/embeddings</c> against the official OpenAI .NET SDK and raw HTTP.</summary>
public sealed class OpenAIEmbeddingsWireTests
{
    [Fact]
    public async Task GenerateEmbeddings_OpenAISdk_ReturnsTheDeterministicVectorsAndWordUsage()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        var client = new EmbeddingClient("embed-model", new ApiKeyCredential("k"), TestClients.OpenAIOptions(fake));

        OpenAIEmbeddingCollection result = await client.GenerateEmbeddingsAsync(["hello world", "again"]);

        Assert.Equal(2, result.Count);
        Assert.Equal(FakeEmbeddings.VectorFor("hello world"), result[0].ToFloats().ToArray());
        Assert.Equal(FakeEmbeddings.VectorFor("again"), result[1].ToFloats().ToArray());
        Assert.Equal((0, 1), (result[0].Index, result[1].Index));
        Assert.Equal("embed-model", result.Model);
        Assert.Equal(3, result.Usage.InputTokenCount);
        Assert.Equal(3, result.Usage.TotalTokenCount);
        var sent = JsonDocument.Parse(Assert.Single(fake.Requests).Body).RootElement;
        Assert.Equal("base64", sent.GetProperty("encoding_format").GetString()); // the SDK asks for base64 by default
    }

    [Fact]
    public async Task Embeddings_FloatFormatWithDimensions_ReturnsJsonNumbersOfThatLength()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/embeddings", TestClients.Json("""{"model":"m","input":"hello world","encoding_format":"float","dimensions":4}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("list", body.GetProperty("object").GetString());
        var item = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        Assert.Equal(FakeEmbeddings.VectorFor("hello world", 4), item.GetProperty("embedding").EnumerateArray().Select(static v => v.GetSingle()).ToArray());
        Assert.Equal(2, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Embeddings_TokenArrays_OneVectorPerArrayAndOneTokenPerId()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/embeddings", TestClients.Json("""{"model":"m","input":[[1,2,3],[4]]}"""));

        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, body.GetProperty("data").GetArrayLength());
        Assert.Equal(4, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Embeddings_ScriptedError_AnswersTheStatusInTheOpenAIShape()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Error(503));
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/embeddings", TestClients.Json("""{"model":"m","input":"x"}"""));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Embeddings_NoInput_Answers400()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/embeddings", TestClients.Json("""{"model":"m"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
