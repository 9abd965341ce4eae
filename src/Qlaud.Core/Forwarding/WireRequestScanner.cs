using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Qlaud.Forwarding;

/// <summary>Reads the few top-level fields routing needs from a raw request body, and rewrites only those bytes for passthrough.</summary>
/// <remarks>
/// Passthrough must deliver every field the client sent, known or not, unchanged. Re-serializing an object model would
/// reorder, re-escape or drop fields, so the body is copied byte for byte and only the <c>model</c> value (and, for an
/// OpenAI stream, <c>stream_options.include_usage</c>) is spliced in.
/// </remarks>
internal static class WireRequestScanner
{
    private static ReadOnlySpan<byte> ModelName => "model"u8;
    private static ReadOnlySpan<byte> StreamName => "stream"u8;
    private static ReadOnlySpan<byte> StreamOptionsName => "stream_options"u8;
    private static ReadOnlySpan<byte> IncludeUsageName => "include_usage"u8;

    /// <summary>Scans <paramref name="body"/>; returns an error message for a body that is not a JSON object.</summary>
    public static string? Scan(ReadOnlySpan<byte> body, out WireRequestInfo info)
    {
        info = default;
        info.StreamOptionsObjectStart = -1;
        info.IncludeUsageStart = -1;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "The request body must be a JSON object.";
            }

            info.ObjectStart = (int)reader.TokenStartIndex;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(ModelName))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return "'model' must be a string.";
                    }

                    info.Model = reader.GetString();
                    info.ModelStart = (int)reader.TokenStartIndex;
                    info.ModelLength = (int)(reader.BytesConsumed - reader.TokenStartIndex);
                }
                else if (reader.ValueTextEquals(StreamName))
                {
                    reader.Read();
                    info.Stream = reader.TokenType switch
                    {
                        JsonTokenType.True => true,
                        JsonTokenType.False or JsonTokenType.Null => false,
                        _ => throw new FormatException("'stream' must be a boolean."),
                    };
                }
                else if (reader.ValueTextEquals(StreamOptionsName))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        info.StreamOptionsObjectStart = (int)reader.TokenStartIndex;
                        ScanStreamOptions(ref reader, ref info);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long max))
                    {
                        info.MaxTokens = max;
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return "'max_tokens' must be an integer.";
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return "The request body must be a JSON object.";
            }

            return reader.Read() ? "The request body has data after the JSON object." : null;
        }
        catch (JsonException ex)
        {
            return $"The request body is not valid JSON: {ex.Message}";
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }

    private static void ScanStreamOptions(ref Utf8JsonReader reader, ref WireRequestInfo info)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isIncludeUsage = reader.ValueTextEquals(IncludeUsageName);
            reader.Read();
            if (isIncludeUsage)
            {
                info.ClientIncludeUsage = reader.TokenType == JsonTokenType.True;
                info.IncludeUsageStart = (int)reader.TokenStartIndex;
                info.IncludeUsageLength = (int)(reader.BytesConsumed - reader.TokenStartIndex);
            }

            reader.Skip();
        }
    }

    /// <summary>
    /// Copies <paramref name="body"/> to <paramref name="output"/> with the model value replaced by <paramref name="modelJson"/>
    /// (an encoded JSON string, quotes included) and, when <paramref name="forceIncludeUsage"/>, with
    /// <c>stream_options.include_usage</c> set to <c>true</c>.
    /// </summary>
    public static void Rewrite(ReadOnlySpan<byte> body, in WireRequestInfo info, ReadOnlySpan<byte> modelJson, bool forceIncludeUsage, IBufferWriter<byte> output)
    {
        // At most three edits, applied in offset order: insert stream_options (after the top-level '{'),
        // replace model, and insert/replace include_usage inside an existing stream_options.
        Span<Edit> edits = stackalloc Edit[3];
        int count = 0;
        if (forceIncludeUsage && !info.ClientIncludeUsage)
        {
            if (info.StreamOptionsObjectStart < 0)
            {
                edits[count++] = new Edit(info.ObjectStart + 1, 0, EditKind.InsertStreamOptions);
            }
            else if (info.IncludeUsageStart >= 0)
            {
                edits[count++] = new Edit(info.IncludeUsageStart, info.IncludeUsageLength, EditKind.True);
            }
            else
            {
                edits[count++] = new Edit(info.StreamOptionsObjectStart + 1, 0, EditKind.InsertIncludeUsage);
            }
        }

        if (info.ModelLength > 0)
        {
            edits[count++] = new Edit(info.ModelStart, info.ModelLength, EditKind.Model);
        }

        edits = edits[..count];
        edits.Sort(static (a, b) => a.Start.CompareTo(b.Start));

        int position = 0;
        foreach (var edit in edits)
        {
            output.Write(body[position..edit.Start]);
            switch (edit.Kind)
            {
                case EditKind.Model:
                    output.Write(modelJson);
                    break;
                case EditKind.True:
                    output.Write("true"u8);
                    break;
                case EditKind.InsertStreamOptions:
                    output.Write("\"stream_options\":{\"include_usage\":true}"u8);
                    output.Write(HasMembersAfter(body, edit.Start) ? ","u8 : default);
                    break;
                case EditKind.InsertIncludeUsage:
                    output.Write("\"include_usage\":true"u8);
                    output.Write(HasMembersAfter(body, edit.Start) ? ","u8 : default);
                    break;
            }

            position = edit.Start + edit.Length;
        }

        output.Write(body[position..]);
    }

    /// <summary>Encodes a model id as a JSON string token (quotes included), as spliced into a body.</summary>
    public static byte[] EncodeModel(string model)
    {
        var buffer = new ArrayBufferWriter<byte>(model.Length + 8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStringValue(model);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static bool HasMembersAfter(ReadOnlySpan<byte> body, int afterBrace)
    {
        var rest = body[afterBrace..].TrimStart(" \t\r\n"u8);
        return rest.Length > 0 && rest[0] != (byte)'}';
    }

    private enum EditKind { Model, True, InsertStreamOptions, InsertIncludeUsage }

    private readonly record struct Edit(int Start, int Length, EditKind Kind);

    /// <summary>For diagnostics and tests: the UTF-8 text of a span.</summary>
    internal static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);
}
