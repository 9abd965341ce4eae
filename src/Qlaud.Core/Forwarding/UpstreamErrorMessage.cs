using System.Text.Json;

namespace Qlaud.Forwarding;

/// <summary>Reads the human message out of an upstream error body of any dialect (<c>{"error":{"message"}}</c> in both OpenAI and Anthropic shapes).</summary>
internal static class UpstreamErrorMessage
{
    public static string? Extract(ReadOnlySpan<byte> body) => Read(body).Message;

    /// <summary>The <c>error</c> object's <c>message</c>, <c>type</c> and <c>code</c> (both dialects put them there), when the body has them.</summary>
    public static (string? Message, string? Type, string? Code) Read(ReadOnlySpan<byte> body)
    {
        string? message = null, type = null, code = null;
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

                if (reader.CurrentDepth == 1)
                {
                    inError = reader.ValueTextEquals("error"u8);
                }
                else if (inError && reader.CurrentDepth == 2)
                {
                    ref string? field = ref message;
                    if (reader.ValueTextEquals("type"u8))
                    {
                        field = ref type;
                    }
                    else if (reader.ValueTextEquals("code"u8))
                    {
                        field = ref code;
                    }
                    else if (!reader.ValueTextEquals("message"u8))
                    {
                        continue;
                    }

                    reader.Read();
                    field = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (or cut short): what was read so far.
        }

        return (message, type, code);
    }
}
