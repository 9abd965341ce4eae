using System.Buffers.Binary;
using System.Text;
using Qlaud.Tokenization;

namespace Qlaud.Core.Tests.Tokenization;

public sealed class MediaTokensTests
{
    internal static byte[] Png(int width, int height, int size = 64)
    {
        var png = new byte[Math.Max(size, 24)];
        ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
        signature.CopyTo(png);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        return png;
    }

    [Theory]
    [InlineData(1024, 1024, false, 765)] // OpenAI's example: 768×768, four tiles
    [InlineData(2048, 4096, false, 1105)] // OpenAI's example: 1024×2048 → 768×1536, six tiles
    [InlineData(4096, 4096, true, 85)]
    public void OpenAIImageTokens_PublishedExamples(int width, int height, bool low, int expected)
        => Assert.Equal(expected, MediaTokens.OpenAIImageTokens(width, height, low));

    [Theory]
    [InlineData(200, 200, 54)] // Anthropic's table: 200×200 ≈ 54
    [InlineData(1000, 1000, 1334)] // 1000×1000 ≈ 1334
    [InlineData(1092, 1092, 1590)] // 1092×1092 ≈ 1590
    [InlineData(8000, 8000, 1600)] // scaled to 1568 on the long edge, then to 1.2 MP
    public void AnthropicImageTokens_PublishedExamples(int width, int height, int expected)
        => Assert.Equal(expected, MediaTokens.AnthropicImageTokens(width, height));

    [Fact]
    public void TryReadImageSize_PngGifWebPJpeg_ReadsTheHeader()
    {
        Assert.True(MediaTokens.TryReadImageSize(Png(640, 480), out int w, out int h));
        Assert.Equal((640, 480), (w, h));

        byte[] gif = [.. "GIF89a"u8, 0x20, 0x03, 0x58, 0x02];
        Assert.True(MediaTokens.TryReadImageSize(gif, out w, out h));
        Assert.Equal((800, 600), (w, h));

        var webp = new byte[30];
        "RIFF"u8.CopyTo(webp);
        "WEBPVP8X"u8.CopyTo(webp.AsSpan(8));
        webp[24] = 0xFF; webp[25] = 0x03; // width - 1 = 1023
        webp[27] = 0xFF; webp[28] = 0x02; // height - 1 = 767
        Assert.True(MediaTokens.TryReadImageSize(webp, out w, out h));
        Assert.Equal((1024, 768), (w, h));

        // SOI, an APP0 segment of 16 bytes, then SOF0 with height 300 and width 400.
        byte[] jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, .. new byte[14], 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0x2C, 0x01, 0x90, 0x03, 0, 0, 0, 0];
        Assert.True(MediaTokens.TryReadImageSize(jpeg, out w, out h));
        Assert.Equal((400, 300), (w, h));
    }

    [Fact]
    public void FromBase64_FourMegabytePngDataUrl_CountsTheImageNotItsText()
    {
        string dataUrl = "data:image/png;base64," + Convert.ToBase64String(Png(1024, 1024, 4 * 1024 * 1024));

        long tokens = MediaTokens.FromBase64(Encoding.ASCII.GetBytes(dataUrl));

        // max(OpenAI 765, Anthropic 1399); counted as text it would be about 1.9 million.
        Assert.Equal(1399, tokens);
    }

    [Fact]
    public void FromBase64_UnreadableImage_CountsTheAllowance()
    {
        byte[] jpegWithoutFrame = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, .. new byte[2000]];

        Assert.Equal(MediaTokens.ImageAllowance, MediaTokens.FromBase64(Encoding.ASCII.GetBytes(Convert.ToBase64String(jpegWithoutFrame))));
    }

    [Fact]
    public void FromBytes_PdfWithThreePages_CountsPerPage()
    {
        byte[] pdf = Encoding.ASCII.GetBytes("%PDF-1.4\n1 0 obj << /Type /Pages /Count 3 >>\n2 0 obj << /Type /Page >>\n3 0 obj <</Type/Page>>\n4 0 obj << /Type\n/Page /Parent 1 0 R >>\n%%EOF");

        Assert.Equal(3L * MediaTokens.TokensPerPage, MediaTokens.FromBytes(pdf));
        Assert.Equal(3L * MediaTokens.TokensPerPage, MediaTokens.FromBase64(Encoding.ASCII.GetBytes(Convert.ToBase64String(pdf))));
    }

    [Fact]
    public void FromBytes_WavAndUnknownAudio_TenTokensPerSecond()
    {
        // A WAV header at 32,000 bytes per second with 64,000 bytes: two seconds, 20 tokens.
        var wav = new byte[64_000];
        "RIFF"u8.CopyTo(wav);
        "WAVEfmt "u8.CopyTo(wav.AsSpan(8));
        BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(28), 32_000);
        Assert.Equal(20, MediaTokens.FromBytes(wav));

        // An MP3 (ID3 tag) of 40,000 bytes: at most 10 seconds at 4,000 bytes per second, 100 tokens.
        var mp3 = new byte[40_000];
        "ID3"u8.CopyTo(mp3);
        Assert.Equal(100, MediaTokens.FromBytes(mp3));
    }
}
