using System.Text.Json;

namespace Qlaud.Embeddings;

/// <summary>
/// Checks the fields of an OpenAI <c>POST /v1/embeddings</c> body that Qlaud can judge before any upstream call: <c>input</c>
/// (a string, an array of strings, an array of token ids, or an array of token-id arrays, none empty), <c>encoding_format</c>
/// (<c>float</c> or <c>base64</c>), <c>dimensions</c> (a positive integer) and <c>user</c> (a string).
/// </summary>
/// <remarks>Other fields pass through untouched for the provider to judge (passthrough relays every byte but <c>model</c>).</remarks>
internal static class EmbeddingRequestValidator
{
    private const string InputShape = "'input' must be a string, an array of strings, an array of token ids (integers) or an array of token-id arrays";

    /// <summary>Returns an error message for a body that cannot be a valid embeddings request, or null.</summary>
    /// <param name="body">The body, already known to be one JSON object (<c>WireRequestScanner.Scan</c> accepted it).</param>
    public static string? Validate(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        reader.Read();
        bool hasInput = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("input"u8))
            {
                reader.Read();
                hasInput = true;
                if (Input(ref reader) is { } inputError)
                {
                    return inputError;
                }
            }
            else if (reader.ValueTextEquals("encoding_format"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null && !(reader.TokenType == JsonTokenType.String && (reader.ValueTextEquals("float"u8) || reader.ValueTextEquals("base64"u8))))
                {
                    return "'encoding_format' must be 'float' or 'base64'.";
                }
            }
            else if (reader.ValueTextEquals("dimensions"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null && !(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int dimensions) && dimensions > 0))
                {
                    return "'dimensions' must be a positive integer.";
                }
            }
            else if (reader.ValueTextEquals("user"u8))
            {
                reader.Read();
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                {
                    return "'user' must be a string.";
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return hasInput ? null : "'input' is required: the text (or token ids) to embed.";
    }

    private static string? Input(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.ValueSpan.IsEmpty && !reader.ValueIsEscaped ? "'input' must not be an empty string." : null;
            case JsonTokenType.StartArray:
                break;
            default:
                return InputShape + ".";
        }

        // The first element decides the shape; every other element must have it too.
        var shape = JsonTokenType.None;
        int index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var token = reader.TokenType;
            if (shape == JsonTokenType.None)
            {
                shape = token;
            }

            if (token != shape || token is not (JsonTokenType.String or JsonTokenType.Number or JsonTokenType.StartArray))
            {
                return $"{InputShape}; {At(index)} does not match.";
            }

            if (token == JsonTokenType.String && reader.ValueSpan.IsEmpty)
            {
                return $"{At(index)} must not be an empty string.";
            }

            if (token == JsonTokenType.Number && !TokenId(ref reader))
            {
                return $"{At(index)} must be a token id (a non-negative integer).";
            }

            if (token == JsonTokenType.StartArray)
            {
                int count = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number || !TokenId(ref reader))
                    {
                        return $"{At(index)} must be an array of token ids (non-negative integers).";
                    }

                    count++;
                }

                if (count == 0)
                {
                    return $"{At(index)} must not be empty.";
                }
            }

            index++;
        }

        return index == 0 ? "'input' must not be an empty array." : null;
    }

    private static string At(int index) => $"'input[{index.ToString(System.Globalization.CultureInfo.InvariantCulture)}]'";

    private static bool TokenId(ref Utf8JsonReader reader) => reader.TryGetInt64(out long id) && id >= 0;
}
