using System.Text.Json;

namespace Qlaud.Forwarding;

/// <summary>Inspects an Anthropic Messages stream: usage from <c>message_start</c> and <c>message_delta</c>, <c>message_stop</c> as the end.</summary>
internal sealed class AnthropicPassthroughInspector : PassthroughInspector
{
    public override bool OnEvent(ReadOnlySpan<byte> rawEvent)
    {
        int lines = SseEvent.Parse(rawEvent, out var type, out var data);
        if (lines == 0)
        {
            return true;
        }

        if (type.SequenceEqual("message_stop"u8))
        {
            Completed = true;
        }
        else if (type.SequenceEqual("message_start"u8) || type.SequenceEqual("message_delta"u8))
        {
            if (lines > 1)
            {
                data = SseEvent.JoinData(rawEvent);
            }

            ReadUsage(data);
        }
        else if (type.SequenceEqual("error"u8))
        {
            UpstreamError = "The upstream reported an error in the stream.";
        }

        return true;
    }

    private void ReadUsage(ReadOnlySpan<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        Usage = UsageReader.ReadAnthropic(ref reader, Usage ?? default);
                    }

                    return;
                }
            }
        }
        catch (JsonException)
        {
            // Relay regardless; a stream without readable usage is reported by the forwarder.
        }
    }
}
