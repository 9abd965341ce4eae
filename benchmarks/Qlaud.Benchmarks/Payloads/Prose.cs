namespace Qlaud.Benchmarks.Payloads;

/// <summary>Deterministic chat-like text: the same seed gives the same bytes on every machine, so runs compare.</summary>
internal static class Prose
{
    private static readonly string[] Sentences =
    [
        "The invoice service retries failed webhooks with exponential backoff, capped at ten minutes.",
        "Could you summarise the last three incidents and say which ones share a root cause?",
        "Here is the stack trace: System.InvalidOperationException: Sequence contains no elements\n   at System.Linq.Enumerable.First[TSource](IEnumerable`1 source)",
        "I'd rather keep the \"legacy\" endpoint until every tenant has migrated.",
        "Latency at p99 went from 180 ms to 420 ms after the deploy on Tuesday.",
        "Bitte antworte auf Deutsch, wenn der Kunde Deutsch schreibt – danke!",
        "The migration adds a nullable column, backfills it in batches of 5 000 rows, then makes it NOT NULL.",
        "Use the search tool before answering questions about order status; never guess a tracking number.",
        "She said the build is green on main but the nightly job still fails on ARM64.",
        "Return JSON only: {\"status\": \"ok\" | \"error\", \"items\": [...]}.",
        "Prices are per million tokens; cached input is billed at a tenth of the input price.",
        "Tokyo, 東京 — the meeting moves to 09:30 JST because of the holiday.",
    ];

    /// <summary>Roughly <paramref name="chars"/> characters of sentences drawn with <paramref name="random"/>.</summary>
    public static string Text(Random random, int chars)
    {
        var builder = new System.Text.StringBuilder(chars + 128);
        while (builder.Length < chars)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(Sentences[random.Next(Sentences.Length)]);
        }

        return builder.ToString();
    }

    /// <summary>
    /// Splits text into token-sized fragments the way a model streams them: a word with its leading space,
    /// punctuation on its own now and then.
    /// </summary>
    public static List<string> Tokens(Random random, int count)
    {
        var tokens = new List<string>(count);
        while (tokens.Count < count)
        {
            var words = Sentences[random.Next(Sentences.Length)].Split(' ');
            for (int i = 0; i < words.Length && tokens.Count < count; i++)
            {
                string word = i == 0 && tokens.Count == 0 ? words[i] : " " + words[i];
                if (word.Length > 6 && tokens.Count + 1 < count)
                {
                    // Long words arrive in two pieces, as BPE tokens do.
                    tokens.Add(word[..4]);
                    tokens.Add(word[4..]);
                }
                else
                {
                    tokens.Add(word);
                }
            }
        }

        tokens.RemoveRange(count, tokens.Count - count);
        return tokens;
    }
}
