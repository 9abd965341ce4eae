#pragma warning disable OPENAI001 // the SDK marks the GPT image qualities and the usage of an image answer as evaluation-only
using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Images;

namespace Qlaud.FakeProvider.Tests.OpenAI;

/// <summary>The fake's <c>POST /v1/images/generations</c> read by the official OpenAI SDK's <see cref="ImageClient"/>, and the 401 and 400s the
/// API reference documents, over raw HTTP.</summary>
public sealed class OpenAIImagesWireTests
{
    [Fact]
    public async Task Generate_GptImage_SdkReadsThePngAndTheResolvedSettings()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        var client = new ImageClient("gpt-image-1", new ApiKeyCredential("k"), TestClients.OpenAIOptions(fake));

        var result = await client.GenerateImagesAsync("a red fox", 2, new ImageGenerationOptions { Quality = GeneratedImageQuality.LowQuality, Size = GeneratedImageSize.W1536xH1024 });

        var images = result.Value;
        Assert.Equal(2, images.Count);
        Assert.Equal(FakeImages.Png, images[0].ImageBytes.ToArray());
        Assert.Equal(GeneratedImageSize.W1536xH1024, images.Size);
        Assert.Equal(800, images.Usage.OutputTokenCount); // 2 × 400 documented low-quality 1536×1024 tokens
        var sent = Assert.Single(fake.Requests);
        Assert.Equal("gpt-image-1", sent.Model);
    }

    [Fact]
    public async Task Generate_DallE3_RevisedPromptAndNoUsage()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUri };
        http.DefaultRequestHeaders.Authorization = new("Bearer", "k");

        using var response = await http.PostAsync("/v1/images/generations", Json("""{"model":"dall-e-3","prompt":"a fox","response_format":"b64_json","quality":"hd"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("A picture of a fox", body.RootElement.GetProperty("data")[0].GetProperty("revised_prompt").GetString());
        Assert.False(body.RootElement.TryGetProperty("usage", out _));
    }

    [Theory]
    [InlineData(null, """{"model":"gpt-image-1","prompt":"a fox"}""", 401, "You didn't provide an API key")]
    [InlineData("k", """{"model":"gpt-image-1"}""", 400, "Missing required parameter: 'prompt'.")]
    [InlineData("k", """{"model":"gpt-image-1","prompt":"a fox","n":11}""", 400, "Must be between 1 and 10.")]
    [InlineData("k", """{"model":"dall-e-3","prompt":"a fox","n":2}""", 400, "dall-e-3 supports only n=1.")]
    [InlineData("k", """{"model":"gpt-image-1","prompt":"a fox","response_format":"b64_json"}""", 400, "Unknown parameter: 'response_format'.")]
    [InlineData("k", """{"model":"gpt-image-1","prompt":"a fox","quality":"hd"}""", 400, "Invalid value: 'hd'.")]
    [InlineData("k", """{"model":"gpt-image-1","prompt":"a fox","size":"1792x1024"}""", 400, "Invalid value: '1792x1024'.")]
    [InlineData("k", """{"model":"gpt-image-1","prompt":"a fox","output_format":"gif"}""", 400, "Invalid value: 'gif'.")]
    public async Task Generate_DocumentedErrors_InOpenAIsShape(string? key, string json, int status, string message)
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUri };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }

        using var response = await http.PostAsync("/v1/images/generations", Json(json));

        Assert.Equal(status, (int)response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(message, body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_request_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Generate_ScriptedRateLimit_SdkSees429()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(2)));
        var client = new ImageClient("gpt-image-1", new ApiKeyCredential("k"), TestClients.OpenAIOptions(fake));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => client.GenerateImageAsync("a fox"));

        Assert.Equal(429, ex.Status);
        Assert.Equal("2", ex.GetRawResponse()!.Headers.TryGetValue("retry-after", out var retryAfter) ? retryAfter : null);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
