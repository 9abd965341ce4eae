using System.Buffers.Binary;
using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>
/// The OpenAI embeddings format (<c>POST /v1/embeddings</c>): reads the request's <c>input</c> (a string, an array of strings, a
/// token array or an array of token arrays), <c>encoding_format</c> and <c>dimensions</c>, and writes the <c>list</c> of
/// <c>embedding</c> objects with <c>usage</c>.
/// </summary>
/// <remarks>
/// <para>Vectors are deterministic: each input's values come from a hash of its text (or token ids), normalized to length 1 as
/// OpenAI's are, with <see cref="DefaultDimensions"/> values unless the request sets <c>dimensions</c>. With
/// <c>encoding_format</c> <c>base64</c> each vector is the base64 of its little-endian float32 bytes; otherwise a JSON array.</para>
/// <para>Usage: <c>prompt_tokens</c> = <c>total_tokens</c> = the words of every string input plus the ids of every token input
/// (at least 1 per input), unless the reply scripts <see cref="FakeUsage.InputTokens"/>.</para>
/// </remarks>
internal static class OpenAIEmbeddingsWire
{
    /// <summary>The vector length when the request sets no <c>dimensions</c>.</summary>
    public const int DefaultDimensions = FakeEmbeddings.DefaultDimensions;

    /// <summary>The parsed request, or why it is invalid (OpenAI's 400 messages).</summary>
    public readonly record struct Request(string? Model, List<ulong> Seeds, long Tokens, bool Base64, int Dimensions, string? Error);

    public static Request Parse(ReadOnlySpan<byte> json)
    {
        string? model = null;
        var seeds = new List<ulong>();
        long tokens = 0;
        bool base64 = false, hasInput = false;
        int dimensions = DefaultDimensions;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Invalid("We could not parse the JSON body of your request.");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("encoding_format"u8))
                {
                    reader.Read();
                    base64 = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("base64"u8);
                }
                else if (reader.ValueTextEquals("dimensions"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out dimensions) || dimensions < 1)
                    {
                        return Invalid("'dimensions' must be a positive integer.");
                    }
                }
                else if (reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    hasInput = true;
                    if (ReadInput(ref reader, seeds, ref tokens) is { } inputError)
                    {
                        return Invalid(inputError);
                    }
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
            return Invalid("We could not parse the JSON body of your request.");
        }

        return model is null ? Invalid("you must provide a model parameter")
            : !hasInput ? Invalid("'input' is a required property")
            : new Request(model, seeds, tokens, base64, dimensions, null);
    }

    /// <summary>Writes the <c>list</c> object for <paramref name="request"/>.</summary>
    public static void Write(Utf8JsonWriter w, in Request request, long promptTokens)
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        var vector = new float[request.Dimensions];
        var bytes = request.Base64 ? new byte[request.Dimensions * sizeof(float)] : null;
        for (int i = 0; i < request.Seeds.Count; i++)
        {
            Fill(request.Seeds[i], vector);
            w.WriteStartObject();
            w.WriteString("object", "embedding");
            if (bytes is not null)
            {
                for (int d = 0; d < vector.Length; d++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(d * sizeof(float)), vector[d]);
                }

                w.WriteString("embedding", Convert.ToBase64String(bytes));
            }
            else
            {
                w.WriteStartArray("embedding");
                foreach (float value in vector)
                {
                    w.WriteNumberValue(value);
                }

                w.WriteEndArray();
            }

            w.WriteNumber("index", i);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("model", request.Model);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", promptTokens);
        w.WriteNumber("total_tokens", promptTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The vector for a string input (see <see cref="FakeEmbeddings.VectorFor"/>).</summary>
    internal static float[] VectorFor(string text, int dimensions)
    {
        var vector = new float[dimensions];
        Fill(Hash(System.Text.Encoding.UTF8.GetBytes(text), 14695981039346656037UL), vector);
        return vector;
    }

    private static Request Invalid(string error) => new(null, [], 0, false, 0, error);

    private static string? ReadInput(ref Utf8JsonReader reader, List<ulong> seeds, ref long tokens)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            AddText(ref reader, seeds, ref tokens);
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return "'input' must be a string or an array.";
        }

        ulong tokenSeed = 14695981039346656037UL;
        long tokenCount = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    AddText(ref reader, seeds, ref tokens);
                    break;
                case JsonTokenType.Number:
                    // One token array: all ids are one input.
                    tokenSeed = Hash(reader.ValueSpan, tokenSeed);
                    tokenCount++;
                    break;
                case JsonTokenType.StartArray:
                    ulong seed = 14695981039346656037UL;
                    long count = 0;
                    while (reader.Read() && reader.TokenType == JsonTokenType.Number)
                    {
                        seed = Hash(reader.ValueSpan, seed);
                        count++;
                    }

                    seeds.Add(seed);
                    tokens += Math.Max(1, count);
                    break;
                default:
                    return "'input' has an element that is not a string, a token id or a token array.";
            }
        }

        if (tokenCount > 0)
        {
            seeds.Add(tokenSeed);
            tokens += tokenCount;
        }

        return seeds.Count == 0 ? "'input' must not be empty." : null;
    }

    private static void AddText(ref Utf8JsonReader reader, List<ulong> seeds, ref long tokens)
    {
        string text = reader.GetString()!;
        seeds.Add(Hash(System.Text.Encoding.UTF8.GetBytes(text), 14695981039346656037UL));
        tokens += Math.Max(1, text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length);
    }

    /// <summary>FNV-1a over <paramref name="bytes"/>, continuing from <paramref name="hash"/>.</summary>
    private static ulong Hash(ReadOnlySpan<byte> bytes, ulong hash)
    {
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return (hash ^ 0x2C) * 1099511628211UL; // a separator, so [1,23] and [12,3] differ
    }

    /// <summary>Fills <paramref name="vector"/> from <paramref name="seed"/> (xorshift64*) and scales it to length 1.</summary>
    private static void Fill(ulong seed, float[] vector)
    {
        ulong state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;
        double sum = 0;
        for (int d = 0; d < vector.Length; d++)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            double value = ((state * 2685821657736338717UL) >> 11) * (1.0 / (1UL << 53)) * 2 - 1;
            vector[d] = (float)value;
            sum += value * value;
        }

        float scale = sum > 0 ? (float)(1 / Math.Sqrt(sum)) : 0;
        for (int d = 0; d < vector.Length; d++)
        {
            vector[d] *= scale;
        }
    }
}
