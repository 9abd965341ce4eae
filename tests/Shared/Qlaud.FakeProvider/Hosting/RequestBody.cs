using System.Buffers;
using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>A request body read into a pooled buffer; return it with <see cref="Dispose"/>.</summary>
internal readonly struct RequestBody : IDisposable
{
    private const int MaxPresizedLength = 16 * 1024 * 1024;
    private readonly byte[] _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public static async ValueTask<RequestBody> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var contentLength = request.ContentLength;
        if (contentLength == 0)
        {
            return new RequestBody([], 0);
        }

        var initial = contentLength is > 0 and <= MaxPresizedLength ? (int)contentLength.Value : 4096;
        var buffer = ArrayPool<byte>.Shared.Rent(initial);
        var total = 0;
        try
        {
            var stream = request.Body;
            while (true)
            {
                if (total == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, total).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                total += read;

                // With a known length the next read would only return 0: skip that await.
                if (contentLength is long expected && total >= expected)
                {
                    break;
                }
            }

            return new RequestBody(buffer, total);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public byte[] ToArray() => Span.ToArray();

    public void Dispose()
    {
        if (_buffer is { Length: > 0 })
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}

/// <summary>The few request fields the fake acts on, read without building an object model.</summary>
internal readonly record struct ChatRequestFields(bool IsJson, string? Model, bool Stream, bool IncludeUsage, bool HasMaxTokens)
{
    public static ChatRequestFields Parse(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return default;
        }

        string? model = null;
        bool stream = false, includeUsage = false, hasMaxTokens = false;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("max_tokens"u8))
                {
                    reader.Read();
                    hasMaxTokens = reader.TokenType == JsonTokenType.Number;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    includeUsage = ReadIncludeUsage(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Reading to the end validates the rest of the document.
            while (reader.Read())
            {
            }
        }
        catch (JsonException)
        {
            return default;
        }

        return new ChatRequestFields(true, model, stream, includeUsage, hasMaxTokens);
    }

    private static bool ReadIncludeUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return false;
        }

        var includeUsage = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isIncludeUsage)
            {
                includeUsage = reader.TokenType == JsonTokenType.True;
            }
            else
            {
                reader.Skip();
            }
        }

        return includeUsage;
    }
}
