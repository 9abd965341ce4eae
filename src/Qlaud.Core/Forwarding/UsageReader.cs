using System.Text.Json;
using Qlaud.Metering;

namespace Qlaud.Forwarding;

/// <summary>Reads usage objects straight from wire JSON (OpenAI and Anthropic shapes) without decoding the rest.</summary>
internal static class UsageReader
{
    /// <summary>Reads an OpenAI <c>usage</c> object; the reader is positioned on its <c>StartObject</c>.</summary>
    public static TokenUsage ReadOpenAI(ref Utf8JsonReader reader)
    {
        long prompt = 0, completion = 0, cached = 0, reasoning = 0, deepSeekCacheHit = 0;
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("prompt_tokens"u8)) { prompt = Number(ref reader); }
            else if (reader.ValueTextEquals("completion_tokens"u8)) { completion = Number(ref reader); }
            else if (reader.ValueTextEquals("cached_tokens"u8)) { cached = Number(ref reader); }
            else if (reader.ValueTextEquals("reasoning_tokens"u8)) { reasoning = Number(ref reader); }
            // DeepSeek reports cache hits at the top level of usage instead of prompt_tokens_details.
            else if (reader.ValueTextEquals("prompt_cache_hit_tokens"u8)) { deepSeekCacheHit = Number(ref reader); }
        }

        return new TokenUsage(prompt, completion, cached > 0 ? cached : deepSeekCacheHit, 0, reasoning);
    }

    /// <summary>Reads an Anthropic <c>usage</c> object; fields it lacks keep their values from <paramref name="previous"/>.</summary>
    /// <remarks>Anthropic's input counts exclude cache reads and writes; they are added so <see cref="TokenUsage.Input"/> counts all input.</remarks>
    public static TokenUsage ReadAnthropic(ref Utf8JsonReader reader, TokenUsage previous)
    {
        long? input = null, output = null, cacheRead = null, cacheWrite = null;
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != depth + 1)
            {
                continue;
            }

            if (reader.ValueTextEquals("input_tokens"u8)) { input = NullableNumber(ref reader); }
            else if (reader.ValueTextEquals("output_tokens"u8)) { output = NullableNumber(ref reader); }
            else if (reader.ValueTextEquals("cache_read_input_tokens"u8)) { cacheRead = NullableNumber(ref reader); }
            else if (reader.ValueTextEquals("cache_creation_input_tokens"u8)) { cacheWrite = NullableNumber(ref reader); }
        }

        long read = cacheRead ?? previous.CacheRead;
        long write = cacheWrite ?? previous.CacheWrite;
        long uncached = input ?? (previous.Input - previous.CacheRead - previous.CacheWrite);
        return new TokenUsage(uncached + read + write, output ?? previous.Output, read, write, previous.Reasoning);
    }

    /// <summary>Finds the top-level <c>usage</c> of a whole OpenAI or Anthropic response body.</summary>
    public static TokenUsage? FromResponseBody(ReadOnlySpan<byte> body, bool anthropic)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isUsage = reader.ValueTextEquals("usage"u8);
                reader.Read();
                if (isUsage && reader.TokenType == JsonTokenType.StartObject)
                {
                    return anthropic ? ReadAnthropic(ref reader, default) : ReadOpenAI(ref reader);
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // A body that is not JSON has no usage; the caller logs the missing usage.
        }

        return null;
    }

    private static long Number(ref Utf8JsonReader reader)
        => reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long value) ? value : 0;

    private static long? NullableNumber(ref Utf8JsonReader reader)
        => reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long value) ? value : null;
}
