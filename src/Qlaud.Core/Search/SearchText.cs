using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Qlaud.Search;

/// <summary>The text of a message that search indexes, its chunks for embedding, and the words of a query.</summary>
internal static class SearchText
{
    /// <summary>The most words of one query sent to the keyword index.</summary>
    private const int MaxTerms = 32;

    /// <summary>English function words left out of keyword queries (they match nearly every message); a query of only these keeps them.</summary>
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have",
        "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "than", "that", "the", "their",
        "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why",
        "will", "with", "would", "you", "your",
    };

    /// <summary>The searchable text of a message's content blocks (Anthropic shape): its <c>text</c> blocks and the text of its
    /// <c>tool_result</c> blocks, one paragraph each. Images, tool calls and thinking are not indexed.</summary>
    public static string Extract(string contentJson)
    {
        using var document = JsonDocument.Parse(contentJson);
        var text = new StringBuilder();
        Append(document.RootElement, text);
        return text.ToString();
    }

    /// <summary>Pieces of at most <paramref name="maxCharacters"/> characters, cut at whitespace, each overlapping the previous by
    /// about a tenth so a sentence on a boundary is whole in one of them.</summary>
    public static List<string> Chunk(string text, int maxCharacters)
    {
        var chunks = new List<string>();
        text = text.Trim();
        if (text.Length <= maxCharacters)
        {
            if (text.Length > 0)
            {
                chunks.Add(text);
            }

            return chunks;
        }

        int overlap = maxCharacters / 10;
        int start = 0;
        while (start < text.Length)
        {
            int end = Math.Min(start + maxCharacters, text.Length);
            if (end < text.Length)
            {
                int space = text.LastIndexOfAny([' ', '\n', '\t'], end - 1, end - start);
                if (space > start + maxCharacters / 2)
                {
                    end = space;
                }
            }

            chunks.Add(text[start..end].Trim());
            if (end >= text.Length)
            {
                break;
            }

            int next = end - overlap;
            int boundary = text.IndexOfAny([' ', '\n', '\t'], Math.Max(next, start + 1));
            start = boundary > start && boundary < end ? boundary + 1 : end;
        }

        return chunks;
    }

    /// <summary>The distinct words of a query, lower-cased, without English function words unless nothing else is left.</summary>
    public static List<string> Terms(string query)
    {
        var all = new List<string>();
        var word = new StringBuilder();
        foreach (char c in query)
        {
            if (char.IsLetterOrDigit(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark)
            {
                word.Append(char.ToLowerInvariant(c));
            }
            else if (word.Length > 0)
            {
                Add(all, word.ToString());
                word.Clear();
            }
        }

        if (word.Length > 0)
        {
            Add(all, word.ToString());
        }

        var content = all.Where(static t => !StopWords.Contains(t)).ToList();
        var terms = content.Count > 0 ? content : all;
        return terms.Count > MaxTerms ? terms[..MaxTerms] : terms;

        static void Add(List<string> terms, string term)
        {
            if (!terms.Contains(term))
            {
                terms.Add(term);
            }
        }
    }

    /// <summary>Base letters of U+00C0 to U+024F (Latin-1 Supplement and Latin Extended-A and -B) where the letter is an accented
    /// ASCII letter, \0 where it is not; the gateway runs with invariant globalization, so Unicode normalization is not available.</summary>
    private const string LatinBase = "aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0\0aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0yaaaaaaccccccccdd\0\0eeeeeeeeeegggggggghh\0\0iiiiiiiii\0\0\0jjkk\0llllll\0\0\0\0nnnnnn\0\0\0oooooo\0\0rrrrrrsssssssstttt\0\0uuuuuuuuuuuuwwyyyzzzzzz\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0oo\0\0\0\0\0\0\0\0\0\0\0\0\0uu\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0aaiioouuuuuuuuuu\0aaaa\0\0\0\0ggkkoooo\0\0j\0\0\0gg\0\0nnaa\0\0\0\0aaaaeeeeiiiioooorrrruuuusstt\0\0hh\0\0\0\0\0\0aaeeooooooooyy\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    /// <summary>A word folded as the keyword index folds it: lower case, accents removed from Latin letters.</summary>
    public static string Fold(ReadOnlySpan<char> word)
    {
        var folded = new StringBuilder(word.Length);
        foreach (char c in word)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            char lower = char.ToLowerInvariant(c);
            folded.Append(lower is >= '\u00C0' and <= '\u024F' && LatinBase[lower - '\u00C0'] is not '\0' and var b ? b : lower);
        }

        return folded.ToString();
    }

    /// <summary>How many of a query's words a keyword hit must contain to enter hybrid fusion: one of a one- or two-word query, half
    /// (rounded up) of more. A hit matching only a minor word of a longer query is left to the semantic ranking.</summary>
    public static int MinimumShouldMatch(int terms) => terms <= 2 ? Math.Min(terms, 1) : (terms + 1) / 2;

    private static void Append(JsonElement content, StringBuilder text)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            Paragraph(text, content.GetString());
            return;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var block in content.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type))
            {
                continue;
            }

            switch (type.GetString())
            {
                case "text" when block.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String:
                    Paragraph(text, value.GetString());
                    break;
                case "tool_result" when block.TryGetProperty("content", out var result):
                    Append(result, text);
                    break;
            }
        }
    }

    private static void Paragraph(StringBuilder text, string? paragraph)
    {
        if (string.IsNullOrWhiteSpace(paragraph))
        {
            return;
        }

        if (text.Length > 0)
        {
            text.Append('\n');
        }

        text.Append(paragraph);
    }
}
