namespace Qlaud.Tokenization;

/// <summary>
/// A fast count that stays at or above what <c>o200k_base</c> and <c>cl100k_base</c> count for the same UTF-8 text, for the
/// spend reservation on the request path, where running the tokenizer itself costs too much (about 90 µs per KB here;
/// this is one pass over the bytes).
/// </summary>
/// <remarks>
/// It counts by character class, as the tokenizers' pre-tokenization splits text: a word (a run of up to
/// <see cref="MaxWordLetters"/> ASCII letters with no upper-case letter after a lower-case one) counts one token per
/// <see cref="WordLettersPerToken"/> letters, rounded up; any other letter run (camelCase, base64, random identifiers, letters next to digits,
/// which the tokenizers split into pieces of under two letters on average) two tokens per three letters; a run of digits
/// splits into groups of at most three, or of two next to letters (hex, identifiers); a space before a word or a symbol joins it; other whitespace runs count one per
/// <see cref="WhitespacePerToken"/>; every ASCII symbol counts one (JSON syntax merges into fewer); a non-ASCII character
/// one token per UTF-8 byte after its first (CJK two, emoji three). A bound that holds for every input would have to
/// count every byte (text made of rare short letter sequences can need a token per letter); this one is checked against
/// the real tokenizers on prose, code, JSON, German, Chinese, Japanese, emoji, numbers, whitespace, symbols, random
/// letters, base64, hex and UUIDs, and is about twice the real count for English prose and JSON. When a request does
/// cost more than its reservation, the settle charges what the provider reports, up to the cap.
/// </remarks>
internal static class TokenBound
{
    /// <summary>The longest letter run counted as a word: beyond it, or with an upper-case letter inside, a run counts as random letters.</summary>
    public const int MaxWordLetters = 12;

    /// <summary>Letters per token in a word beyond its first token.</summary>
    public const int WordLettersPerToken = 4;

    /// <summary>Whitespace characters counted per token in a run.</summary>
    public const int WhitespacePerToken = 4;

    /// <summary>The bound for <paramref name="text"/> (counted over its UTF-8 bytes).</summary>
    public static long Count(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        int max = System.Text.Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= 2048 ? stackalloc byte[2048] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max));
        try
        {
            int written = System.Text.Encoding.UTF8.GetBytes(text, utf8);
            return Count(utf8[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The bound for <paramref name="utf8"/>.</summary>
    public static long Count(ReadOnlySpan<byte> utf8)
    {
        long tokens = 0;
        int i = 0;
        int n = utf8.Length;
        while (i < n)
        {
            byte b = utf8[i];
            if (IsLetter(b))
            {
                int start = i;
                bool mixed = false;
                while (++i < n && IsLetter(utf8[i]))
                {
                    // An upper-case letter after a lower-case one: camelCase, base64, random identifiers.
                    mixed |= utf8[i] < (byte)'a' && utf8[i - 1] >= (byte)'a';
                }

                int length = i - start;
                bool nextToDigit = (start > 0 && IsDigit(utf8[start - 1])) || (i < n && IsDigit(utf8[i]));
                tokens += length <= MaxWordLetters && !mixed && !nextToDigit
                    ? 1 + ((length - 1) / WordLettersPerToken)
                    : ((length * 2) + 2) / 3;
            }
            else if (IsDigit(b))
            {
                int start = i;
                while (++i < n && IsDigit(utf8[i]))
                {
                }

                // Digits inside an identifier or hex (next to letters) split into smaller pieces than a number's groups of three.
                bool nextToLetter = (start > 0 && IsLetter(utf8[start - 1])) || (i < n && IsLetter(utf8[i]));
                tokens += nextToLetter ? (i - start + 1) / 2 : (i - start + 2) / 3;
            }
            else if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
            {
                int start = i;
                while (++i < n && utf8[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
                {
                }

                // One space before a word or a symbol belongs to it (not before a number: digits split on their own).
                bool joins = i - start == 1 && b == (byte)' ' && i < n && utf8[i] is < 0x80 and not (>= (byte)'0' and <= (byte)'9') and not (byte)' ' and not (byte)'\t' and not (byte)'\n' and not (byte)'\r';
                tokens += joins ? 0 : 1 + ((i - start - 1) / WhitespacePerToken);
            }
            else if (b < 0x80)
            {
                tokens++;
                i++;
            }
            else
            {
                // A non-ASCII character: one token per byte after its lead byte (at least one).
                int length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
                tokens += Math.Max(1, length - 1);
                i += length;
            }
        }

        return tokens;
    }

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    private static bool IsLetter(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a';
}
