using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Qlaud.Tokenization;

/// <summary>The byte-pair encoding a model is counted with.</summary>
internal enum TokenEncoding
{
    /// <summary><c>o200k_base</c>: GPT-4o, GPT-4.1, GPT-4.5, GPT-5 and later, the o-series, gpt-oss.</summary>
    O200k,

    /// <summary><c>cl100k_base</c>: GPT-4 and GPT-3.5, and the approximation for every non-OpenAI family.</summary>
    Cl100k,
}

/// <summary>
/// Counts tokens with OpenAI's tokenizers (<c>Microsoft.ML.Tokenizers</c> with the <c>o200k_base</c> and <c>cl100k_base</c>
/// data), loaded on first use: a gateway that never counts never loads them.
/// </summary>
/// <remarks>
/// Exact for OpenAI models' text. Other families (Claude, Gemini, DeepSeek, Llama, …) have tokenizers of their own that
/// are not published as data; they are counted with <c>cl100k_base</c>, which is an estimate (Claude's tokenizers produce
/// more tokens than <c>cl100k_base</c> for the same text, up to about a third more, so spend reservations add
/// <see cref="NonOpenAIReservationPercent"/>). Tokenizing costs about 90 µs per KB of text here, so the spend reservation on
/// the request path uses <see cref="TokenBound"/> instead; this serves <c>count_tokens</c>.
/// </remarks>
internal static class TokenCounter
{
    /// <summary>Tokens OpenAI counts per chat message for its role and framing (the OpenAI cookbook's <c>tokens_per_message</c>).</summary>
    public const int TokensPerMessage = 3;

    /// <summary>Tokens that prime every reply (<c>&lt;|start|&gt;assistant&lt;|message|&gt;</c>).</summary>
    public const int ReplyPriming = 3;

    /// <summary>Tokens per declared tool beyond its name, description and schema text (the cookbook's function overhead).</summary>
    public const int TokensPerTool = 7;

    /// <summary>Tokens added once when a request declares tools.</summary>
    public const int ToolsOverhead = 12;

    /// <summary>The margin, in percent, added to a non-OpenAI family's count when it is used as a spend reservation's upper bound.</summary>
    public const int NonOpenAIReservationPercent = 35;

    private const int StackChars = 1024;

    private static readonly Lazy<Tokenizer> s_o200k = new(static () => TiktokenTokenizer.CreateForEncoding("o200k_base"), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<Tokenizer> s_cl100k = new(static () => TiktokenTokenizer.CreateForEncoding("cl100k_base"), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether <paramref name="model"/> is an OpenAI model counted exactly (not an approximation).</summary>
    public static bool IsOpenAIFamily(string? model)
    {
        var id = Bare(model);
        return id.StartsWith("gpt-", StringComparison.OrdinalIgnoreCase) || id.StartsWith("chatgpt-", StringComparison.OrdinalIgnoreCase)
            || id.StartsWith("text-embedding-", StringComparison.OrdinalIgnoreCase) || (id.Length >= 2 && (id[0] is 'o' or 'O') && char.IsAsciiDigit(id[1]));
    }

    /// <summary>The encoding <paramref name="model"/> is counted with: o200k for current OpenAI models, cl100k for GPT-4 and GPT-3.5 and everything else.</summary>
    public static TokenEncoding EncodingFor(string? model)
    {
        if (!IsOpenAIFamily(model))
        {
            return TokenEncoding.Cl100k;
        }

        var id = Bare(model);
        bool legacy = id.StartsWith("gpt-3.5", StringComparison.OrdinalIgnoreCase) || id.StartsWith("text-embedding-", StringComparison.OrdinalIgnoreCase)
            || id.Equals("gpt-4", StringComparison.OrdinalIgnoreCase) || id.StartsWith("gpt-4-", StringComparison.OrdinalIgnoreCase)
            || id.StartsWith("gpt-4-32k", StringComparison.OrdinalIgnoreCase);
        return legacy ? TokenEncoding.Cl100k : TokenEncoding.O200k;
    }

    /// <summary>Counts the tokens of <paramref name="text"/>.</summary>
    public static int Count(ReadOnlySpan<char> text, TokenEncoding encoding)
        => text.IsEmpty ? 0 : Get(encoding).CountTokens(text);

    /// <summary>Counts the tokens of <paramref name="text"/>; long texts are remembered (see <see cref="CountCache"/>).</summary>
    public static int Count(string? text, TokenEncoding encoding)
    {
        if (text is null || text.Length < CountCache.MinChars)
        {
            return Count(text.AsSpan(), encoding);
        }

        var cache = encoding == TokenEncoding.O200k ? s_o200kCounts : s_cl100kCounts;
        if (cache.TryGet(text, out int tokens))
        {
            return tokens;
        }

        tokens = Count(text.AsSpan(), encoding);
        cache.Add(text, tokens);
        return tokens;
    }

    /// <summary>Counts the tokens of UTF-8 <paramref name="utf8"/>, transcoded through a pooled buffer.</summary>
    public static int CountUtf8(ReadOnlySpan<byte> utf8, TokenEncoding encoding)
    {
        if (utf8.IsEmpty)
        {
            return 0;
        }

        int max = Encoding.UTF8.GetMaxCharCount(utf8.Length);
        char[]? rented = null;
        Span<char> chars = max <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(max));
        try
        {
            int n = Encoding.UTF8.GetChars(utf8, chars);
            return Get(encoding).CountTokens(chars[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary><paramref name="tokens"/> with <see cref="NonOpenAIReservationPercent"/> added, rounded up.</summary>
    public static long WithNonOpenAIMargin(long tokens) => tokens + ((tokens * NonOpenAIReservationPercent) + 99) / 100;

    private static readonly CountCache s_o200kCounts = new(), s_cl100kCounts = new();

    private static Tokenizer Get(TokenEncoding encoding) => encoding == TokenEncoding.O200k ? s_o200k.Value : s_cl100k.Value;

    /// <summary>The model id without a router's <c>owner/</c> prefix (<c>openai/gpt-4o</c>).</summary>
    private static ReadOnlySpan<char> Bare(string? model)
    {
        var id = model.AsSpan();
        int slash = id.LastIndexOf('/');
        return slash >= 0 ? id[(slash + 1)..] : id;
    }
}
