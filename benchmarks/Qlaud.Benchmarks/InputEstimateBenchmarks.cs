using System.Text;
using BenchmarkDotNet.Attributes;
using Qlaud.Benchmarks.Payloads;
using Qlaud.Catalog;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Tokenization;

namespace Qlaud.Benchmarks;

/// <summary>
/// The spend reservation's input estimate for a wire chat body, as <c>ChatForwarder.ForwardAsync</c> computes it after the
/// body was scanned: <see cref="SpendEstimator.EstimateInputTokens(ReadOnlySpan{byte}, in WireRequestInfo, IReadOnlyList{CatalogRoute})"/>
/// counts the body with <see cref="TokenBound"/> (plus the non-OpenAI margin for a Claude route).
/// </summary>
/// <remarks>
/// Baseline: the size-only estimate it replaces (3 bytes per token). <c>Tokenizer_O200k</c> / <c>Tokenizer_Cl100k</c> run the
/// real tokenizer over the same body (what <c>count_tokens</c> uses), which is why the reservation does not.
/// <c>Scan_ImageBody</c> is the scanner over a body with a 4 MB inline PNG, which now also reads the image's header for its
/// token estimate.
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class InputEstimateBenchmarks
{
    private static readonly CatalogProvider s_provider = new("bench", "openai", new Uri("http://127.0.0.1:9/v1"), new Dictionary<string, string>(), true, TimeSpan.FromSeconds(60));

    private byte[] _body = [];
    private byte[] _imageBody = [];
    private string _text = "";
    private WireRequestInfo _info;
    private CatalogRoute[] _openAI = [];
    private CatalogRoute[] _claude = [];

    /// <summary>Body size in bytes: a typical short chat, and a long conversation.</summary>
    [Params(2 * 1024, 40 * 1024)]
    public int BodyBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _body = OpenAIPayloads.ChatBody(BodyBytes, stream: false);
        WireRequestScanner.Scan(_body, out _info);
        var price = new ModelPrice(1_000_000, 2_000_000, 0, 0);
        _openAI = [new CatalogRoute("gpt-4o", s_provider, "gpt-4o", price)];
        _claude = [new CatalogRoute("claude", s_provider, "claude-sonnet-5", price)];
        var png = new byte[4 * 1024 * 1024];
        ReadOnlySpan<byte> header = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0x0F, 0xA0, 0, 0, 0x0B, 0xB8];
        header.CopyTo(png);
        _imageBody = Encoding.UTF8.GetBytes($$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(png)}}}"}}]}]}""");
        _ = TokenCounter.CountUtf8(_body, TokenEncoding.O200k) + TokenCounter.CountUtf8(_body, TokenEncoding.Cl100k);
        _text = Encoding.UTF8.GetString(_body);
        _ = TokenCounter.Count(_text, TokenEncoding.Cl100k);
    }

    [Benchmark(Baseline = true)]
    public long BodySize() => SpendEstimator.EstimateInputTokens(_body.Length);

    [Benchmark]
    public long Reservation_OpenAIRoute() => SpendEstimator.EstimateInputTokens(_body, _info, _openAI);

    [Benchmark]
    public long Reservation_ClaudeRoute() => SpendEstimator.EstimateInputTokens(_body, _info, _claude);

    [Benchmark]
    public long Tokenizer_O200k() => TokenCounter.CountUtf8(_body, TokenEncoding.O200k);

    [Benchmark]
    public long Tokenizer_Cl100k() => TokenCounter.CountUtf8(_body, TokenEncoding.Cl100k);

    /// <summary>The same text counted again, as an agent loop's repeated system prompt, tools and earlier turns are:
    /// <see cref="CountCache"/> answers it (a fresh string each time, so the lookup hashes the whole text).</summary>
    [Benchmark]
    public long Tokenizer_Cl100k_CountedBefore() => TokenCounter.Count(new string(_text), TokenEncoding.Cl100k);

    [Benchmark]
    public long Scan_ImageBody()
    {
        WireRequestScanner.Scan(_imageBody, out var info);
        return info.MediaTokens;
    }
}
