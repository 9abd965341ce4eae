using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Qlaud.Core.Tests.Dialects;

/// <summary>Writes JSON through a codec and compares documents structurally (property order ignored).</summary>
internal static class JsonAssert
{
    public static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void Equal(string expected, string actual)
    {
        var expectedNode = JsonNode.Parse(expected);
        var actualNode = JsonNode.Parse(actual);
        if (!JsonNode.DeepEquals(expectedNode, actualNode))
        {
            // Show both normalized so the difference is readable in the failure message.
            var options = new JsonSerializerOptions { WriteIndented = true };
            Assert.Equal(expectedNode?.ToJsonString(options), actualNode?.ToJsonString(options));
        }
    }

    public static JsonElement Parse(string json) => JsonElement.Parse(json);
}
