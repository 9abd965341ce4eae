using System.Text.Json;

namespace Qlaud.Forwarding;

/// <summary>Inspects an OpenAI Chat Completions stream: usage from the chunk that carries it, <c>[DONE]</c> as the end.</summary>
/// <remarks>
/// Qlaud always asks the upstream for <c>stream_options.include_usage</c> so it can meter the stream. When the client
/// did not ask for it, the extra chunk (empty <c>choices</c>, only <c>usage</c>) is withheld from the client.
/// </remarks>
internal sealed class OpenAIPassthroughInspector(bool hideUsageChunk) : PassthroughInspector
{
    public override bool OnEvent(ReadOnlySpan<byte> rawEvent)
    {
        int lines = SseEvent.Parse(rawEvent, out _, out var data);
        if (lines == 0)
        {
            return true; // a comment or keep-alive: relay as is
        }

        if (lines > 1)
        {
            data = SseEvent.JoinData(rawEvent);
        }

        if (data.SequenceEqual("[DONE]"u8))
        {
            Completed = true;
            return true;
        }

        // Most chunks carry no usage object, only "usage":null (Qlaud always asks for include_usage): a vectorized search
        // for a usage *object* avoids parsing them at all.
        bool mayHaveUsage = HasUsageObject(data);
        bool mayHaveError = !mayHaveUsage && data.IndexOf("\"error\""u8) >= 0;
        if (!mayHaveUsage && !mayHaveError)
        {
            return true;
        }

        return Inspect(data);
    }

    /// <summary>Whether <paramref name="data"/> may hold <c>"usage": {</c>; <c>"usage":null</c> does not count. A false positive
    /// only costs a parse; a real usage object is never missed.</summary>
    internal static bool HasUsageObject(ReadOnlySpan<byte> data)
    {
        while (true)
        {
            int at = data.IndexOf("\"usage\""u8);
            if (at < 0)
            {
                return false;
            }

            data = data[(at + 7)..].TrimStart(" \t\r\n"u8);
            if (data.IsEmpty || data[0] != (byte)':')
            {
                continue;
            }

            data = data[1..].TrimStart(" \t\r\n"u8);
            if (!data.IsEmpty && data[0] == (byte)'{')
            {
                return true;
            }
        }
    }

    private bool Inspect(ReadOnlySpan<byte> data)
    {
        bool emptyChoices = false, hadUsage = false;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return true;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        Usage = UsageReader.ReadOpenAI(ref reader);
                        hadUsage = true;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        reader.Read();
                        emptyChoices = reader.TokenType == JsonTokenType.EndArray;
                        if (!emptyChoices)
                        {
                            reader.Skip();
                            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                            {
                                reader.Skip();
                            }
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    UpstreamError = reader.TokenType == JsonTokenType.StartObject ? ReadMessage(ref reader) : "The upstream reported an error.";
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return true; // not ours to judge: relay what the upstream sent
        }

        return !(hideUsageChunk && hadUsage && emptyChoices);
    }

    private static string ReadMessage(ref Utf8JsonReader reader)
    {
        string? message = null;
        int depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                message = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        return message ?? "The upstream reported an error.";
    }
}
