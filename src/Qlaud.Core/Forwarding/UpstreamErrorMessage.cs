using System.Text.Json;

namespace Qlaud.Forwarding;

/// <summary>Reads the human message out of an upstream error body of any dialect (<c>{"error":{"message"}}</c> in both OpenAI and Anthropic shapes).</summary>
internal static class UpstreamErrorMessage
{
    public static string? Extract(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            bool inError = false;
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                if (reader.CurrentDepth == 1 && reader.ValueTextEquals("error"u8))
                {
                    inError = true;
                }
                else if (inError && reader.CurrentDepth == 2 && reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: no message to pass on.
        }

        return null;
    }
}
