using System.Buffers;
using System.Text;
using System.Text.Json;
using Qlaud.Forwarding;

namespace Qlaud.Core.Tests.Forwarding;

public sealed class WireRequestScannerTests
{
    private static string Rewrite(string body, string model, bool forceIncludeUsage, out WireRequestInfo info)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.Null(WireRequestScanner.Scan(bytes, out info));
        var output = new ArrayBufferWriter<byte>();
        WireRequestScanner.Rewrite(bytes, info, WireRequestScanner.EncodeModel(model), forceIncludeUsage, output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    [Fact]
    public void Rewrite_OnlyModel_EveryOtherByteUnchanged()
    {
        const string body = "{ \"top_k\" : 40,\"model\":\"gpt-4o-mini\",  \"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}],\"safety\":{\"order\":[\"x\"]}}";
        string result = Rewrite(body, "upstream/model-1", forceIncludeUsage: false, out var info);
        Assert.Equal(body.Replace("\"gpt-4o-mini\"", "\"upstream/model-1\"", StringComparison.Ordinal), result);
        Assert.Equal("gpt-4o-mini", info.Model);
        Assert.False(info.Stream);
    }

    [Fact]
    public void Rewrite_StreamWithoutOptions_InsertsIncludeUsage()
    {
        string result = Rewrite("{\"model\":\"m\",\"stream\":true,\"messages\":[]}", "u", forceIncludeUsage: true, out var info);
        Assert.True(info.Stream);
        Assert.False(info.ClientIncludeUsage);
        using var doc = JsonDocument.Parse(result);
        Assert.True(doc.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("u", doc.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void Rewrite_StreamOptionsWithoutIncludeUsage_AddsItKeepingOtherOptions()
    {
        string result = Rewrite("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"x\":1}}", "u", forceIncludeUsage: true, out _);
        using var doc = JsonDocument.Parse(result);
        var options = doc.RootElement.GetProperty("stream_options");
        Assert.True(options.GetProperty("include_usage").GetBoolean());
        Assert.Equal(1, options.GetProperty("x").GetInt32());
    }

    [Fact]
    public void Rewrite_IncludeUsageFalse_SetToTrue()
    {
        string result = Rewrite("{\"stream_options\":{\"include_usage\":false},\"model\":\"m\",\"stream\":true}", "u", forceIncludeUsage: true, out var info);
        Assert.False(info.ClientIncludeUsage);
        Assert.Equal("{\"stream_options\":{\"include_usage\":true},\"model\":\"u\",\"stream\":true}", result);
    }

    [Fact]
    public void Rewrite_EmptyStreamOptions_ProducesValidJson()
    {
        string result = Rewrite("{\"model\":\"m\",\"stream\":true,\"stream_options\":{ }}", "u", forceIncludeUsage: true, out _);
        using var doc = JsonDocument.Parse(result);
        Assert.True(doc.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public void Rewrite_ClientAskedForUsage_RecordedAndUnchanged()
    {
        const string body = "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        string result = Rewrite(body, "m", forceIncludeUsage: true, out var info);
        Assert.True(info.ClientIncludeUsage);
        Assert.Equal(body, result);
    }

    [Fact]
    public void Rewrite_ModelNeedingEscapes_EncodedAsJsonString()
    {
        string result = Rewrite("{\"model\":\"m\"}", "a\"b", forceIncludeUsage: false, out _);
        using var doc = JsonDocument.Parse(result);
        Assert.Equal("a\"b", doc.RootElement.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("", "The request body is not valid JSON")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("{\"model\":1}", "'model' must be a string")]
    [InlineData("{\"model\":\"m\",\"stream\":\"yes\"}", "'stream' must be a boolean")]
    [InlineData("{\"model\":\"m\"", "not valid JSON")]
    [InlineData("{\"model\":\"m\"} x", "not valid JSON")]
    public void Scan_BadBody_ReturnsMessageNamingTheProblem(string body, string expected)
    {
        string? error = WireRequestScanner.Scan(Encoding.UTF8.GetBytes(body), out _);
        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_MaxTokens_Read()
    {
        Assert.Null(WireRequestScanner.Scan("{\"model\":\"m\",\"max_completion_tokens\":77}"u8, out var info));
        Assert.Equal(77, info.MaxTokens);
    }
}

public sealed class WireRequestScannerRoutingFieldTests
{
    private static string Rewrite(string body, bool forceIncludeUsage = false, string model = "up")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.Null(WireRequestScanner.Scan(bytes, out var info));
        var output = new ArrayBufferWriter<byte>();
        WireRequestScanner.Rewrite(bytes, info, WireRequestScanner.EncodeModel(model), forceIncludeUsage, output);
        string result = Encoding.UTF8.GetString(output.WrittenSpan);
        using var _ = JsonDocument.Parse(result); // always valid JSON
        return result;
    }

    [Theory]
    [InlineData("""{"model":"m","provider":{"order":["a"]},"messages":[]}""", """{"model":"up","messages":[]}""")]
    [InlineData("""{"model":"m","messages":[],"provider":{"order":["a"]}}""", """{"model":"up","messages":[]}""")]
    [InlineData("""{"provider":{"order":["a"]},"model":"m","messages":[]}""", """{"model":"up","messages":[]}""")]
    [InlineData("""{"provider":{},"models":["x"],"model":"m"}""", """{"model":"up"}""")]
    [InlineData("""{"model":"m","models":["x"],"provider":{}}""", """{"model":"up"}""")]
    [InlineData("""{"model":"m","models":["x"],"top_k":1,"provider":{}}""", """{"model":"up","top_k":1}""")]
    [InlineData("""{ "models" : ["x"] , "model":"m" , "provider":{"sort":"price"} }""", """{ "model":"up" }""")]
    public void Rewrite_RoutingFields_RemovedEveryOtherByteKept(string body, string expected)
        => Assert.Equal(expected, Rewrite(body));

    [Fact]
    public void Rewrite_ModelOnlyInModels_ModelInserted()
        => Assert.Equal("""{"model":"up","messages":[]}""", Rewrite("""{"models":["x","y"],"messages":[]}"""));

    [Fact]
    public void Rewrite_OnlyRoutingFields_ModelInsertedAlone()
        => Assert.Equal("""{"model":"up"}""", Rewrite("""{"models":["x"],"provider":{}}"""));

    [Fact]
    public void Rewrite_StreamOptionsInsertedAndProviderRemoved()
        => Assert.Equal("""{"stream_options":{"include_usage":true},"model":"up","stream":true}""", Rewrite("""{"provider":{"only":["a"]},"model":"m","stream":true}""", forceIncludeUsage: true));

    [Fact]
    public void Rewrite_ModelAbsentAndStreamOptionsInserted_BothAtTheHead()
        => Assert.Equal("""{"model":"up","stream_options":{"include_usage":true},"stream":true}""", Rewrite("""{"models":["x"],"stream":true}""", forceIncludeUsage: true));

    [Fact]
    public void Scan_ToolsAndInlineMedia_Recorded()
    {
        string image = "data:image/png;base64," + new string('A', 4000);
        string body = """{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"IMAGE"}},{"type":"text","text":"hi"}]}]}""".Replace("IMAGE", image, StringComparison.Ordinal);
        Assert.Null(WireRequestScanner.Scan(Encoding.UTF8.GetBytes(body), out var info));
        Assert.True(info.HasTools);
        Assert.Equal(image.Length, info.MediaBytes);
        Assert.Equal(1, info.MediaCount);
        Assert.Equal(3, info.MemberCount); // model, tools, messages
    }

    [Fact]
    public void Scan_EmptyTools_NoTools()
    {
        Assert.Null(WireRequestScanner.Scan("""{"model":"m","tools":[],"messages":[]}"""u8, out var info));
        Assert.False(info.HasTools);
        Assert.Equal(3, info.MemberCount);
    }

    [Theory]
    [InlineData("""{"model":"m","provider":[]}""", "'provider' must be an object.")]
    [InlineData("""{"model":"m","models":"x"}""", "'models' must be an array of model ids.")]
    [InlineData("""{"model":"m","provider":{},"provider":{}}""", "'provider' appears more than once.")]
    public void Scan_MalformedRoutingFields_Error(string body, string expected)
        => Assert.Equal(expected, WireRequestScanner.Scan(Encoding.UTF8.GetBytes(body), out _));

    [Theory]
    [InlineData("""{"model":"m","model":"n"}""", "'model' appears more than once.")]
    [InlineData("""{"model":"m","stream":true,"stream":false}""", "'stream' appears more than once.")]
    [InlineData("""{"model":"m","max_tokens":5,"max_completion_tokens":6}""", "'max_completion_tokens' appears more than once.")]
    [InlineData("""{"model":"m","messages":[],"messages":[]}""", "'messages' appears more than once.")]
    [InlineData("""{"model":"m","max_tokens":0}""", "'max_tokens' must be an integer from 1 to 2147483647.")]
    [InlineData("""{"model":"m","max_completion_tokens":2147483648}""", "'max_completion_tokens' must be an integer from 1 to 2147483647.")]
    [InlineData("""{"model":"m","messages":{}}""", "'messages' must be an array of message objects.")]
    [InlineData("""{"model":"m","messages":[{"role":"user"},"x"]}""", "Each item of 'messages' must be a message object.")]
    [InlineData("""{"model":"m","messages":[{"role":null}]}""", "A message's 'role' must be a string.")]
    [InlineData("""{"model":"m","tools":{}}""", "'tools' must be an array.")]
    [InlineData("""{"model":"m","stream_options":1}""", "'stream_options' must be an object.")]
    public void Scan_AmbiguousOrMistypedMemberTheGatewayReads_Error(string body, string expected)
        => Assert.Equal(expected, WireRequestScanner.Scan(Encoding.UTF8.GetBytes(body), out _));

    [Fact]
    public void Scan_InvalidUtf8InAString_Error()
    {
        byte[] body = [.. """{"model":"m","messages":[{"role":"user","content":"a"""u8, 0xC3, 0x28, .. "\"}]}"u8];

        Assert.Equal("The request body is not valid UTF-8.", WireRequestScanner.Scan(body, out _));
    }

    [Theory]
    [InlineData("""{"model":"m\udbff"}""", "\\udbff")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ude00x"}]}""", "\\ude00")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ud83d\u0041"}]}""", "\\ud83d")]
    public void Scan_LoneSurrogateEscape_Error(string body, string escape)
        => Assert.Equal($"The request body has a lone UTF-16 surrogate escape ('{escape}'): JSON text must encode Unicode characters.",
            WireRequestScanner.Scan(Encoding.UTF8.GetBytes(body), out _));

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ud83d\ude00 \u00e9"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"C:\\udbff is a path"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"ok"}]}],"stream_options":null,"tools":null,"max_tokens":null}""")]
    public void Scan_WellFormed_NoError(string body)
        => Assert.Null(WireRequestScanner.Scan(Encoding.UTF8.GetBytes(body), out _));
}
