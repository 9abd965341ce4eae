using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Qlaud.Forwarding;

/// <summary>Reads the few top-level fields routing needs from a raw request body, and rewrites only those bytes for passthrough.</summary>
/// <remarks>
/// Passthrough must deliver every field the client sent, known or not, unchanged. Re-serializing an object model would
/// reorder, re-escape or drop fields, so the body is copied byte for byte and only the <c>model</c> value (and, for an
/// OpenAI stream, <c>stream_options.include_usage</c>) is spliced in, and the routing fields Qlaud consumes
/// (<c>models</c>, <c>provider</c>) are cut out with their separating comma.
/// </remarks>
internal static class WireRequestScanner
{
    /// <summary>A string value this long under <c>data</c>/<c>url</c>/<c>file_data</c>, or starting with <c>data:</c>, is counted as inline media.</summary>
    private const int MediaThreshold = 1024;

    private const int PendingNext = -2;

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

        // The reader checks JSON syntax but not the UTF-8 inside strings, and accepts escaped lone surrogates; either one would
        // fail later, where a string is decoded or re-encoded, instead of being refused here.
        if (!Utf8.IsValid(body))
        {
            return "The request body is not valid UTF-8.";
        }

        if (FindLoneSurrogateEscape(body) is { } surrogate)
        {
            return $"The request body has a lone UTF-16 surrogate escape ('{surrogate}'): JSON text must encode Unicode characters.";
        }

        Seen seen = 0;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "The request body must be a JSON object.";
            }

            info.ObjectStart = (int)reader.TokenStartIndex;
            int previousValueEnd = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int nameStart = (int)reader.TokenStartIndex;
                if (info.ModelsMember.NextNameStart == PendingNext)
                {
                    info.ModelsMember.NextNameStart = nameStart;
                }

                if (info.ProviderMember.NextNameStart == PendingNext)
                {
                    info.ProviderMember.NextNameStart = nameStart;
                }

                if (Known(ref reader) is var known && known != 0)
                {
                    if ((seen & known) != 0)
                    {
                        return $"'{reader.GetString()}' appears more than once.";
                    }

                    seen |= known;
                }

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
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return "'stream_options' must be an object.";
                    }
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long max) && max is >= 1 and <= int.MaxValue)
                    {
                        info.MaxTokens = max;
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return $"'{Encoding.UTF8.GetString(body.Slice(nameStart + 1, LengthOfName(body, nameStart)))}' must be an integer from 1 to {int.MaxValue}.";
                    }
                }
                else if (reader.ValueTextEquals("messages"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        return "'messages' must be an array of message objects.";
                    }

                    if (ScanMessages(ref reader, ref info) is { } messagesError)
                    {
                        return messagesError;
                    }
                }
                else if (reader.ValueTextEquals("system"u8) || reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    ScanMedia(ref reader, ref info);
                }
                else if (reader.ValueTextEquals("tools"u8) || reader.ValueTextEquals("functions"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        int depth = reader.CurrentDepth;
                        reader.Read();
                        info.HasTools |= reader.TokenType != JsonTokenType.EndArray;
                        if (reader.CurrentDepth > depth)
                        {
                            reader.Skip();
                            while (reader.Read() && reader.CurrentDepth > depth)
                            {
                                reader.Skip();
                            }
                        }
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return "'tools' must be an array.";
                    }
                }
                else if (reader.ValueTextEquals("models"u8) || reader.ValueTextEquals("provider"u8))
                {
                    bool models = reader.ValueTextEquals("models"u8);
                    reader.Read();
                    if (models ? reader.TokenType != JsonTokenType.StartArray : reader.TokenType != JsonTokenType.StartObject)
                    {
                        return models ? "'models' must be an array of model ids." : "'provider' must be an object.";
                    }

                    if (models ? info.ModelsMember.Present : info.ProviderMember.Present)
                    {
                        return models ? "'models' appears more than once." : "'provider' appears more than once.";
                    }

                    int valueStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    var span = new MemberSpan
                    {
                        SeparatorStart = previousValueEnd,
                        NameStart = nameStart,
                        ValueStart = valueStart,
                        ValueEnd = (int)reader.BytesConsumed,
                        NextNameStart = PendingNext,
                    };
                    if (models)
                    {
                        info.ModelsMember = span;
                    }
                    else
                    {
                        info.ProviderMember = span;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }

                previousValueEnd = (int)reader.BytesConsumed;
                info.MemberCount++;
            }

            if (info.ModelsMember.NextNameStart == PendingNext)
            {
                info.ModelsMember.NextNameStart = -1;
            }

            if (info.ProviderMember.NextNameStart == PendingNext)
            {
                info.ProviderMember.NextNameStart = -1;
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

    /// <summary>The members read here, each of which may appear once: a duplicate would let the gateway route, meter or rewrite by
    /// one value while the upstream reads the other.</summary>
    [Flags]
    private enum Seen
    {
        Model = 1,
        Stream = 2,
        StreamOptions = 4,
        MaxTokens = 8,
        Messages = 16,
        System = 32,
        Input = 64,
        Tools = 128,
    }

    private static Seen Known(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals(ModelName))
        {
            return Seen.Model;
        }

        if (reader.ValueTextEquals(StreamName))
        {
            return Seen.Stream;
        }

        if (reader.ValueTextEquals(StreamOptionsName))
        {
            return Seen.StreamOptions;
        }

        if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
        {
            return Seen.MaxTokens;
        }

        if (reader.ValueTextEquals("messages"u8))
        {
            return Seen.Messages;
        }

        if (reader.ValueTextEquals("system"u8))
        {
            return Seen.System;
        }

        if (reader.ValueTextEquals("input"u8))
        {
            return Seen.Input;
        }

        return reader.ValueTextEquals("tools"u8) || reader.ValueTextEquals("functions"u8) ? Seen.Tools : 0;
    }

    /// <summary>The length of the property name whose opening quote is at <paramref name="nameStart"/> (an unescaped name).</summary>
    private static int LengthOfName(ReadOnlySpan<byte> body, int nameStart)
    {
        int end = body[(nameStart + 1)..].IndexOf((byte)'"');
        return end < 0 ? 0 : end;
    }

    /// <summary>Walks <c>messages</c>: each item must be an object whose <c>role</c>, when present, is a string; counts inline media
    /// as <see cref="ScanMedia"/> does.</summary>
    private static string? ScanMessages(ref Utf8JsonReader reader, ref WireRequestInfo info)
    {
        int depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return "Each item of 'messages' must be a message object.";
            }

            int itemDepth = reader.CurrentDepth;
            while (reader.Read() && reader.CurrentDepth > itemDepth)
            {
                bool role = reader.ValueTextEquals("role"u8);
                reader.Read();
                if (role)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return "A message's 'role' must be a string.";
                    }
                }
                else if (reader.TokenType == JsonTokenType.String)
                {
                    if (reader.ValueSpan.Length >= MediaThreshold && reader.ValueSpan.StartsWith("data:"u8))
                    {
                        info.MediaBytes += reader.ValueSpan.Length;
                        info.MediaCount++;
                    }
                }
                else
                {
                    ScanMedia(ref reader, ref info);
                }
            }
        }

        return null;
    }

    /// <summary>Finds a <c>\uD800</c>–<c>\uDFFF</c> escape that is not half of a surrogate pair; returns it, or null.</summary>
    internal static string? FindLoneSurrogateEscape(ReadOnlySpan<byte> body)
    {
        int offset = 0;
        while (body[offset..].IndexOf("\\u"u8) is var found && found >= 0)
        {
            int at = offset + found;
            offset = at + 2;

            // An escape only when the backslash is not itself escaped: an even number of backslashes before it.
            int backslashes = 0;
            while (at - backslashes - 1 >= 0 && body[at - backslashes - 1] == (byte)'\\')
            {
                backslashes++;
            }

            if (backslashes % 2 != 0 || !TryHex4(body, at + 2, out int unit) || unit is < 0xD800 or > 0xDFFF)
            {
                continue;
            }

            if (unit <= 0xDBFF && body.Length >= at + 12 && body[at + 6] == (byte)'\\' && body[at + 7] == (byte)'u'
                && TryHex4(body, at + 8, out int low) && low is >= 0xDC00 and <= 0xDFFF)
            {
                offset = at + 12;
                continue;
            }

            return Encoding.ASCII.GetString(body.Slice(at, Math.Min(6, body.Length - at)));
        }

        return null;
    }

    private static bool TryHex4(ReadOnlySpan<byte> body, int start, out int value)
    {
        value = 0;
        if (body.Length < start + 4)
        {
            return false;
        }

        for (int i = start; i < start + 4; i++)
        {
            int digit = body[i] switch
            {
                >= (byte)'0' and <= (byte)'9' => body[i] - '0',
                >= (byte)'a' and <= (byte)'f' => body[i] - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => body[i] - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return false;
            }

            value = (value << 4) | digit;
        }

        return true;
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
    /// Walks a conversation value token by token (as <c>Skip</c> would) and counts inline media: long strings under
    /// <c>data</c>, <c>url</c> or <c>file_data</c>, or starting with <c>data:</c>. Base64 bytes say little about tokens, so the
    /// routing estimate counts them apart.
    /// </summary>
    private static void ScanMedia(ref Utf8JsonReader reader, ref WireRequestInfo info)
    {
        if (reader.TokenType is not (JsonTokenType.StartArray or JsonTokenType.StartObject))
        {
            return;
        }

        int depth = reader.CurrentDepth;
        bool mediaName = false;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                mediaName = reader.ValueTextEquals("data"u8) || reader.ValueTextEquals("url"u8) || reader.ValueTextEquals("file_data"u8);
                continue;
            }

            if (reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length >= MediaThreshold
                && (mediaName || reader.ValueSpan.StartsWith("data:"u8)))
            {
                var value = reader.ValueSpan;
                info.MediaBytes += value.Length;
                info.MediaCount++;
                info.MediaTokens += reader.ValueIsEscaped || value.StartsWith("http"u8) ? Tokenization.MediaTokens.ImageAllowance : Tokenization.MediaTokens.FromBase64(value);
                (info.MediaSpans ??= []).Add(((int)reader.TokenStartIndex, value.Length + 2));
            }
            else if (mediaName && reader.TokenType == JsonTokenType.String && reader.ValueSpan.StartsWith("http"u8))
            {
                // A linked image or document: its size is unknown without fetching it.
                info.MediaTokens += Tokenization.MediaTokens.ImageAllowance;
            }

            mediaName = false;
        }
    }

    /// <summary>
    /// Copies <paramref name="body"/> to <paramref name="output"/> with the model value replaced by <paramref name="modelJson"/>
    /// (an encoded JSON string, quotes included; inserted when the body names its models only in <c>models</c>), the routing
    /// members <c>models</c> and <c>provider</c> removed, and, when <paramref name="forceIncludeUsage"/>,
    /// <c>stream_options.include_usage</c> set to <c>true</c>.
    /// </summary>
    public static void Rewrite(ReadOnlySpan<byte> body, in WireRequestInfo info, ReadOnlySpan<byte> modelJson, bool forceIncludeUsage, IBufferWriter<byte> output)
    {
        // At most five edits, applied in offset order: insert members after the top-level '{' (model, stream_options),
        // replace model, insert/replace include_usage inside an existing stream_options, remove models and provider.
        Span<Edit> edits = stackalloc Edit[5];
        int count = 0;
        bool insertModel = info.ModelLength == 0;
        bool insertStreamOptions = false;
        if (forceIncludeUsage && !info.ClientIncludeUsage)
        {
            if (info.StreamOptionsObjectStart < 0)
            {
                insertStreamOptions = true;
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

        if (insertModel || insertStreamOptions)
        {
            edits[count++] = new Edit(info.ObjectStart + 1, 0, EditKind.InsertHead);
        }

        if (!insertModel)
        {
            edits[count++] = new Edit(info.ModelStart, info.ModelLength, EditKind.Model);
        }

        int removed = 0;
        if (info.HasRoutingFields)
        {
            // Order the two members by position: the second belongs to the leading run only if it directly follows a leading first.
            bool modelsFirst = !info.ProviderMember.Present || (info.ModelsMember.Present && info.ModelsMember.NameStart < info.ProviderMember.NameStart);
            var a = modelsFirst ? info.ModelsMember : info.ProviderMember;
            var b = modelsFirst ? info.ProviderMember : info.ModelsMember;
            bool aLeading = false;
            if (a.Present)
            {
                aLeading = a.SeparatorStart < 0;
                edits[count++] = Removal(a, aLeading);
                removed++;
            }

            if (b.Present)
            {
                bool bLeading = b.SeparatorStart < 0 || (aLeading && b.SeparatorStart == a.ValueEnd);
                edits[count++] = Removal(b, bLeading);
                removed++;
            }
        }

        edits = edits[..count];
        edits.Sort(static (x, y) => x.Start != y.Start ? x.Start.CompareTo(y.Start) : x.Length.CompareTo(y.Length));

        bool keptMembers = info.MemberCount - removed > 0;
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
                case EditKind.InsertHead:
                    if (insertModel)
                    {
                        output.Write("\"model\":"u8);
                        output.Write(modelJson);
                        output.Write(insertStreamOptions ? ","u8 : default);
                    }

                    if (insertStreamOptions)
                    {
                        output.Write("\"stream_options\":{\"include_usage\":true}"u8);
                    }

                    output.Write(keptMembers ? ","u8 : default);
                    break;
                case EditKind.InsertIncludeUsage:
                    output.Write("\"include_usage\":true"u8);
                    output.Write(HasMembersAfter(body, edit.Start) ? ","u8 : default);
                    break;
                case EditKind.Remove:
                    break;
            }

            position = edit.Start + edit.Length;
        }

        output.Write(body[position..]);
    }

    /// <summary>
    /// The bytes to cut for a removed member. After a kept member: from the end of that member's value (the comma before)
    /// to the end of this value. In the leading run (every member before it removed too): from its name to the next
    /// member's name (the comma after), or to the end of its value when it is the last.
    /// </summary>
    private static Edit Removal(in MemberSpan member, bool leading)
    {
        if (!leading)
        {
            return new Edit(member.SeparatorStart, member.ValueEnd - member.SeparatorStart, EditKind.Remove);
        }

        int end = member.NextNameStart >= 0 ? member.NextNameStart : member.ValueEnd;
        return new Edit(member.NameStart, end - member.NameStart, EditKind.Remove);
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

    private enum EditKind { Model, True, InsertHead, InsertIncludeUsage, Remove }

    private readonly record struct Edit(int Start, int Length, EditKind Kind);

    /// <summary>For diagnostics and tests: the UTF-8 text of a span.</summary>
    internal static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);
}
