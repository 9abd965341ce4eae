using System.Text;
using System.Text.Json;
using Qlaud.Embeddings;

namespace Qlaud.Core.Tests.Embeddings;

public sealed class EmbeddingsWireTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ReadResponse_Base64AndFloatItemsOutOfOrder_VectorsInInputOrderWithUsage()
    {
        // [0.5, -2] as little-endian float32: 00 00 00 3F | 00 00 00 C0.
        string base64 = Convert.ToBase64String([0, 0, 0, 0x3F, 0, 0, 0, 0xC0]);
        var body = Encoding.UTF8.GetBytes($$$"""{"object":"list","data":[{"object":"embedding","index":1,"embedding":"{{{base64}}}"},{"object":"embedding","index":0,"embedding":[0.25,1]}],"model":"m-up","usage":{"prompt_tokens":7,"total_tokens":7}}""");

        var (embeddings, usage) = EmbeddingsWire.ReadResponse(body, expected: 2, Now);

        Assert.Equal([0.25f, 1f], embeddings[0].Vector.ToArray());
        Assert.Equal([0.5f, -2f], embeddings[1].Vector.ToArray());
        Assert.Equal(("m-up", Now), (embeddings[1].ModelId, embeddings[1].CreatedAt!.Value));
        Assert.Equal(7, usage!.Value.Input);
        Assert.Equal(7, embeddings.Usage!.InputTokenCount);
    }

    [Fact]
    public void ReadResponse_MissingItem_Throws()
    {
        var body = """{"object":"list","data":[{"index":0,"embedding":[1]}],"model":"m"}"""u8.ToArray();

        Assert.Throws<JsonException>(() => EmbeddingsWire.ReadResponse(body, expected: 2, Now));
    }

    [Fact]
    public void WriteRequest_DimensionsAndUser_WrittenAfterTheInputs()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            EmbeddingsWire.WriteRequest(writer, "up", ["a", "b"], 64, "u-1");
        }

        Assert.Equal("""{"model":"up","input":["a","b"],"encoding_format":"float","dimensions":64,"user":"u-1"}""", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
