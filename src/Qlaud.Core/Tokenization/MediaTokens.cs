using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;

namespace Qlaud.Tokenization;

/// <summary>
/// Input-token estimates for inline images, documents and audio, from their bytes (or their base64 text) instead of their
/// size as text: a 4 MB image is about 1,600 tokens, not 1.4 million.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><b>Images</b> (PNG, JPEG, GIF, WebP; the size is read from the header): the larger of OpenAI's published formula for
/// <c>detail: high</c> (fit within 2048×2048, shortest side scaled to 768, then 85 + 170 per 512-pixel tile) and Anthropic's
/// (long edge scaled to at most 1568 pixels and the area to at most 1.2 megapixels, then width × height / 750, so at most
/// 1,600). <c>detail: low</c> is 85 on OpenAI; the wire reservation does not read <c>detail</c> and stays at the larger
/// figure. An image whose size cannot be read, or one sent by URL, counts <see cref="ImageAllowance"/>.</item>
/// <item><b>PDFs and other documents</b>: <see cref="TokensPerPage"/> per page (Anthropic's published 1,500–3,000 text tokens
/// per page, plus the page as an image at <see cref="ImageAllowance"/>), pages counted from the PDF's page objects, else one
/// page per <see cref="BytesPerPage"/> bytes.</item>
/// <item><b>Audio</b>: 10 tokens per second (OpenAI counts one audio token per 100 ms of input); the duration is read from a
/// WAV header, else bounded from the size at 4,000 bytes per second (32 kbit/s, the lowest common speech bitrate).</item>
/// </list>
/// These are estimates for reservations and <c>count_tokens</c>; billing uses what the provider reports.
/// </remarks>
internal static class MediaTokens
{
    /// <summary>Tokens for an image whose size is unknown: Anthropic's cost at its largest recommended size (OpenAI's largest is 1,445).</summary>
    public const int ImageAllowance = 1_600;

    /// <summary>Tokens per document page: 3,000 text tokens plus the page image.</summary>
    public const int TokensPerPage = 3_000 + ImageAllowance;

    /// <summary>Bytes per page assumed when a document's pages cannot be counted.</summary>
    public const int BytesPerPage = 100 * 1024;

    /// <summary>Audio tokens per second of input.</summary>
    public const int AudioTokensPerSecond = 10;

    /// <summary>Bytes per second assumed when an audio clip's duration cannot be read.</summary>
    public const int AudioBytesPerSecond = 4_000;

    /// <summary>Base64 characters decoded to find an image's size (a JPEG's frame header can follow up to 64 KB of metadata).</summary>
    private const int HeaderChars = 88 * 1024;

    /// <summary>The estimate for inline base64 data (a bare base64 string or a <c>data:</c> URL).</summary>
    public static long FromBase64(ReadOnlySpan<byte> utf8)
    {
        if (utf8.StartsWith("data:"u8))
        {
            int comma = utf8[..Math.Min(utf8.Length, 256)].IndexOf((byte)',');
            utf8 = comma >= 0 ? utf8[(comma + 1)..] : utf8[5..];
        }

        long decodedBytes = (long)utf8.Length * 3 / 4;
        int take = Math.Min(utf8.Length, HeaderChars) & ~3;
        byte[] rented = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(take));
        try
        {
            Base64.DecodeFromUtf8(utf8[..take], rented, out _, out int written, isFinalBlock: take == utf8.Length);
            var head = rented.AsSpan(0, written);
            return Kind(head) switch
            {
                MediaKind.Image => TryReadImageSize(head, out int w, out int h) ? ImageTokens(w, h) : ImageAllowance,
                MediaKind.Audio => AudioTokens(head, decodedBytes),
                _ => DocumentTokens(utf8, decodedBytes),
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The estimate for raw bytes (an in-process <c>DataContent</c>).</summary>
    public static long FromBytes(ReadOnlySpan<byte> data)
    {
        return Kind(data) switch
        {
            MediaKind.Image => TryReadImageSize(data, out int w, out int h) ? ImageTokens(w, h) : ImageAllowance,
            MediaKind.Audio => AudioTokens(data, data.Length),
            _ => Pages(data, data.Length) * (long)TokensPerPage,
        };
    }

    /// <summary>The larger of OpenAI's high-detail and Anthropic's image cost for a <paramref name="width"/> × <paramref name="height"/> image.</summary>
    public static int ImageTokens(int width, int height) => Math.Max(OpenAIImageTokens(width, height, lowDetail: false), AnthropicImageTokens(width, height));

    /// <summary>OpenAI's published image cost: 85 for <c>detail: low</c>; for high, fit within 2048×2048, scale the shortest side to 768, 85 + 170 per 512-pixel tile.</summary>
    public static int OpenAIImageTokens(int width, int height, bool lowDetail)
    {
        if (lowDetail || width <= 0 || height <= 0)
        {
            return 85;
        }

        double w = width, h = height;
        if (w > 2048 || h > 2048)
        {
            double scale = 2048 / Math.Max(w, h);
            w *= scale;
            h *= scale;
        }

        if (Math.Min(w, h) > 768)
        {
            double scale = 768 / Math.Min(w, h);
            w *= scale;
            h *= scale;
        }

        int tiles = (int)Math.Ceiling(w / 512) * (int)Math.Ceiling(h / 512);
        return 85 + (170 * tiles);
    }

    /// <summary>Anthropic's published image cost: long edge at most 1568 pixels and at most about 1,600 tokens (1.2 megapixels), then width × height / 750.</summary>
    public static int AnthropicImageTokens(int width, int height)
    {
        if (width <= 0 || height <= 0)
        {
            return ImageAllowance;
        }

        double w = width, h = height;
        if (Math.Max(w, h) > 1568)
        {
            double scale = 1568 / Math.Max(w, h);
            w *= scale;
            h *= scale;
        }

        return (int)Math.Ceiling(Math.Min(w * h, 1_200_000) / 750);
    }

    /// <summary>Reads the pixel size from a PNG, GIF, WebP or JPEG header.</summary>
    public static bool TryReadImageSize(ReadOnlySpan<byte> data, out int width, out int height)
    {
        width = height = 0;
        if (data.Length >= 24 && data.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G']))
        {
            width = BinaryPrimitives.ReadInt32BigEndian(data[16..]);
            height = BinaryPrimitives.ReadInt32BigEndian(data[20..]);
        }
        else if (data.Length >= 10 && data.StartsWith("GIF8"u8))
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(data[6..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(data[8..]);
        }
        else if (data.Length >= 30 && data.StartsWith("RIFF"u8) && data[8..].StartsWith("WEBP"u8))
        {
            var chunk = data[12..16];
            if (chunk.SequenceEqual("VP8 "u8))
            {
                width = BinaryPrimitives.ReadUInt16LittleEndian(data[26..]) & 0x3FFF;
                height = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]) & 0x3FFF;
            }
            else if (chunk.SequenceEqual("VP8L"u8) && data.Length >= 25)
            {
                uint bits = BinaryPrimitives.ReadUInt32LittleEndian(data[21..]);
                width = (int)(bits & 0x3FFF) + 1;
                height = (int)((bits >> 14) & 0x3FFF) + 1;
            }
            else if (chunk.SequenceEqual("VP8X"u8))
            {
                width = (data[24] | (data[25] << 8) | (data[26] << 16)) + 1;
                height = (data[27] | (data[28] << 8) | (data[29] << 16)) + 1;
            }
        }
        else if (data.Length >= 4 && data[0] == 0xFF && data[1] == 0xD8)
        {
            int i = 2;
            while (i + 9 < data.Length && data[i] == 0xFF)
            {
                byte marker = data[i + 1];
                if (marker == 0xFF)
                {
                    i++;
                    continue;
                }

                int length = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 2)..]);
                if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                {
                    height = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 5)..]);
                    width = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 7)..]);
                    break;
                }

                i += 2 + length;
            }
        }

        return width > 0 && height > 0;
    }

    private static MediaKind Kind(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G']) || head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])
            || head.StartsWith("GIF8"u8) || (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..].StartsWith("WEBP"u8)))
        {
            return MediaKind.Image;
        }

        if ((head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..].StartsWith("WAVE"u8)) || head.StartsWith("ID3"u8) || head.StartsWith("OggS"u8)
            || head.StartsWith("fLaC"u8) || (head.Length >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0)
            || (head.Length >= 12 && head[4..].StartsWith("ftyp"u8) && (head[8..].StartsWith("M4A"u8) || head[8..].StartsWith("mp4"u8))))
        {
            return MediaKind.Audio;
        }

        return MediaKind.Document;
    }

    private static long AudioTokens(ReadOnlySpan<byte> head, long decodedBytes)
    {
        // A WAV header gives the byte rate; anything else is bounded from its size.
        long bytesPerSecond = head.Length >= 32 && head.StartsWith("RIFF"u8) && head[8..].StartsWith("WAVE"u8)
            ? Math.Max(1, BinaryPrimitives.ReadUInt32LittleEndian(head[28..]))
            : AudioBytesPerSecond;
        return Math.Max(1, ((decodedBytes * AudioTokensPerSecond) + bytesPerSecond - 1) / bytesPerSecond);
    }

    private static long DocumentTokens(ReadOnlySpan<byte> base64, long decodedBytes)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(base64.Length));
        try
        {
            var status = Base64.DecodeFromUtf8(base64, rented, out _, out int written);
            var data = status == OperationStatus.Done ? rented.AsSpan(0, written) : default;
            return Pages(data, decodedBytes) * (long)TokensPerPage;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The page count of a PDF (its <c>/Type /Page</c> objects), else one page per <see cref="BytesPerPage"/>.</summary>
    private static long Pages(ReadOnlySpan<byte> data, long size)
    {
        long pages = 0;
        if (data.StartsWith("%PDF"u8))
        {
            var rest = data;
            int at;
            while ((at = rest.IndexOf("/Type"u8)) >= 0)
            {
                rest = rest[(at + 5)..];
                var value = rest.TrimStart(" \r\n\t"u8);
                if (value.StartsWith("/Page"u8) && !value[5..].StartsWith("s"u8))
                {
                    pages++;
                }
            }
        }

        return pages > 0 ? pages : Math.Max(1, (size + BytesPerPage - 1) / BytesPerPage);
    }

    private enum MediaKind
    {
        Image,
        Audio,
        Document,
    }
}
