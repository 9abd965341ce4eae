using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Forwarding;
using Qlaud.Metering;

namespace Qlaud.Embeddings;

/// <summary>The OpenAI embeddings wire format for in-process calls: the request Qlaud sends and the response it reads.</summary>
internal static class EmbeddingsWire
{
    /// <summary>Writes <c>{"model","input":[…],"encoding_format":"float"[,"dimensions"][,"user"]}</c>.</summary>
    /// <remarks>Floats rather than base64: every OpenAI-compatible embeddings API documents them.</remarks>
    public static void WriteRequest(Utf8JsonWriter writer, string upstreamModel, IReadOnlyList<string> values, int? dimensions, string? user)
    {
        writer.WriteStartObject();
        writer.WriteString("model"u8, upstreamModel);
        writer.WriteStartArray("input"u8);
        for (int i = 0; i < values.Count; i++)
        {
            writer.WriteStringValue(values[i]);
        }

        writer.WriteEndArray();
        writer.WriteString("encoding_format"u8, "float"u8);
        if (dimensions is { } d)
        {
            writer.WriteNumber("dimensions"u8, d);
        }

        if (user is not null)
        {
            writer.WriteString("user"u8, user);
        }

        writer.WriteEndObject();
    }

    /// <summary>Reads an embeddings <c>list</c>: each <c>data[].embedding</c> (a float array or base64 of little-endian float32) in
    /// <c>index</c> order, <c>model</c> and <c>usage</c>.</summary>
    /// <exception cref="JsonException">The body is not an embeddings list, or its count differs from <paramref name="expected"/>.</exception>
    public static (GeneratedEmbeddings<Embedding<float>> Embeddings, TokenUsage? Usage) ReadResponse(ReadOnlySpan<byte> body, int expected, DateTimeOffset created)
    {
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("The answer is not a JSON object.");
        }

        var vectors = new float[]?[expected];
        string? model = null;
        TokenUsage? usage = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                ReadData(ref reader, vectors);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    usage = UsageReader.ReadOpenAI(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        var embeddings = new List<Embedding<float>>(expected);
        for (int i = 0; i < vectors.Length; i++)
        {
            var vector = vectors[i] ?? throw new JsonException($"The answer has no embedding for input {i}.");
            embeddings.Add(new Embedding<float>(vector) { ModelId = model, CreatedAt = created });
        }

        var result = new GeneratedEmbeddings<Embedding<float>>(embeddings);
        if (usage is { } u)
        {
            result.Usage = new UsageDetails { InputTokenCount = u.Input, TotalTokenCount = u.Input };
        }

        return (result, usage);
    }

    private static void ReadData(ref Utf8JsonReader reader, float[]?[] vectors)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("'data' is not an array.");
        }

        int position = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            int index = position++;
            float[]? vector = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("index"u8))
                {
                    reader.Read();
                    index = reader.GetInt32();
                }
                else if (reader.ValueTextEquals("embedding"u8))
                {
                    reader.Read();
                    vector = reader.TokenType == JsonTokenType.String ? FromBase64(reader.GetString()!) : FromArray(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if ((uint)index >= (uint)vectors.Length || vector is null)
            {
                throw new JsonException($"'data' has an item for input {index} of {vectors.Length}, or without an embedding.");
            }

            vectors[index] = vector;
        }
    }

    private static float[] FromArray(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("'embedding' is neither an array nor a base64 string.");
        }

        var values = new List<float>(1536);
        while (reader.Read() && reader.TokenType == JsonTokenType.Number)
        {
            values.Add(reader.GetSingle());
        }

        return [.. values];
    }

    private static float[] FromBase64(string base64)
    {
        byte[] bytes = Convert.FromBase64String(base64);
        var vector = new float[bytes.Length / sizeof(float)];
        for (int i = 0; i < vector.Length; i++)
        {
            vector[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        }

        return vector;
    }
}
