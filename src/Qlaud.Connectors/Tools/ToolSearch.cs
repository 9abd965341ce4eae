using System.Collections.Concurrent;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Qlaud.Search;

namespace Qlaud.Connectors.Tools;

/// <summary>Ranks tools for <c>qlaud_search_tools</c> the way message search ranks messages: BM25 over the tools' names and
/// descriptions, cosine similarity of their embeddings to the intent when search has an embedding generator, and reciprocal
/// rank fusion of the two lists.</summary>
/// <remarks>
/// <para>Keyword side: words are lower-cased, stop words dropped and plural and verb endings cut (<c>tickets</c>, <c>creating</c>
/// match <c>ticket</c>, <c>create</c>); a tool's name counts three times its description. Semantic side: only tools at least
/// <see cref="MinSimilarity"/> similar to the intent are ranked, so unrelated tools are not returned just for existing. A tool's
/// embedding is computed once per process (by its text) and kept; a generator that fails leaves the keyword ranking.</para>
/// <para>The generator is search's (<see cref="SearchEmbedder"/>): the one registered for search, or
/// <c>Qlaud:Search:EmbeddingModel</c> through Qlaud's own routing, then metered to the in-process caller (the default account).</para>
/// </remarks>
internal sealed partial class ToolSearch(SearchEmbedder embedder, ILogger<ToolSearch> logger)
{
    /// <summary>The least cosine similarity of a tool to the intent for the semantic side to rank it.</summary>
    public const float MinSimilarity = 0.3f;

    private const double K1 = 1.2, B = 0.75;

    private readonly ConcurrentDictionary<string, float[]> _vectors = new(StringComparer.Ordinal);

    /// <summary>Whether the semantic side runs.</summary>
    public bool Semantic => embedder.Available;

    /// <summary>The indexes of the best <paramref name="limit"/> documents for <paramref name="intent"/>, best first; documents
    /// that match on neither side are left out.</summary>
    public async Task<IReadOnlyList<int>> RankAsync(string intent, IReadOnlyList<ToolDocument> documents, int limit, CancellationToken cancellationToken)
    {
        var query = Terms(intent);
        var keyword = Keyword(query, documents);
        IReadOnlyList<long> semantic = [];
        if (embedder.Available && documents.Count > 0 && intent.Length > 0)
        {
            try
            {
                semantic = await SemanticAsync(intent, documents, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Log.SemanticFailed(logger, ex.GetType().Name);
            }
        }

        var fused = RankFusion.Fuse(keyword, semantic);
        var top = new List<int>(Math.Min(limit, fused.Count));
        for (int i = 0; i < fused.Count && top.Count < limit; i++)
        {
            top.Add((int)fused[i].DocumentId);
        }

        return top;
    }

    /// <summary>The words of <paramref name="text"/> as the keyword side compares them.</summary>
    public static List<string> Terms(string text)
    {
        var terms = new List<string>();
        foreach (var raw in text.ToLowerInvariant().Split([' ', ',', '.', ':', ';', '\'', '"', '!', '?', '(', ')', '/', '-', '_', '[', ']', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (raw.Length < 3 || raw is "the" or "and" or "for" or "with" or "from" or "into" or "new" or "please" or "that" or "this" or "you" or "are" or "can" or "all")
            {
                continue;
            }

            terms.Add(Stem(raw));
        }

        return terms;
    }

    private static string Stem(string word)
    {
        string stem = word switch
        {
            { Length: > 4 } when word.EndsWith("ies", StringComparison.Ordinal) => word[..^3] + "y",
            { Length: > 5 } when word.EndsWith("ing", StringComparison.Ordinal) => word[..^3],
            { Length: > 4 } when word.EndsWith("ed", StringComparison.Ordinal) => word[..^2],
            { Length: > 4 } when word.EndsWith("es", StringComparison.Ordinal) && word[^3] is 's' or 'x' or 'h' => word[..^2],
            { Length: > 3 } when word.EndsWith('s') && !word.EndsWith("ss", StringComparison.Ordinal) => word[..^1],
            _ => word,
        };
        return stem.Length > 4 && stem.EndsWith('e') ? stem[..^1] : stem;
    }

    private static List<long> Keyword(List<string> query, IReadOnlyList<ToolDocument> documents)
    {
        if (query.Count == 0)
        {
            return [];
        }

        var bags = new Dictionary<string, int>[documents.Count];
        var lengths = new int[documents.Count];
        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int d = 0; d < documents.Count; d++)
        {
            var bag = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var term in Terms(documents[d].Name))
            {
                bag[term] = bag.GetValueOrDefault(term) + 3;
                lengths[d] += 3;
            }

            foreach (var term in Terms(documents[d].Description))
            {
                bag[term] = bag.GetValueOrDefault(term) + 1;
                lengths[d]++;
            }

            foreach (var term in bag.Keys)
            {
                documentFrequency[term] = documentFrequency.GetValueOrDefault(term) + 1;
            }

            bags[d] = bag;
        }

        double averageLength = Math.Max(1, lengths.Average());
        var scored = new List<(long Index, double Score)>();
        for (int d = 0; d < documents.Count; d++)
        {
            double score = 0;
            foreach (var term in query)
            {
                if (bags[d].TryGetValue(term, out int tf))
                {
                    int df = documentFrequency[term];
                    double idf = Math.Log(1 + ((documents.Count - df + 0.5) / (df + 0.5)));
                    score += idf * tf * (K1 + 1) / (tf + (K1 * (1 - B + (B * lengths[d] / averageLength))));
                }
            }

            if (score > 0)
            {
                scored.Add((d, score));
            }
        }

        return [.. scored.OrderByDescending(static s => s.Score).ThenBy(static s => s.Index).Select(static s => s.Index)];
    }

    private async Task<List<long>> SemanticAsync(string intent, IReadOnlyList<ToolDocument> documents, CancellationToken cancellationToken)
    {
        var missing = new List<string> { intent };
        foreach (var document in documents)
        {
            string text = document.Text;
            if (!_vectors.ContainsKey(text) && !missing.Contains(text))
            {
                missing.Add(text);
            }
        }

        var vectors = await embedder.EmbedAsync(missing, cancellationToken).ConfigureAwait(false);
        for (int i = 1; i < missing.Count; i++)
        {
            _vectors.TryAdd(missing[i], vectors[i]);
        }

        var query = vectors[0];
        var scored = new List<(long Index, float Similarity)>();
        for (int d = 0; d < documents.Count; d++)
        {
            if (_vectors.TryGetValue(documents[d].Text, out var vector) && vector.Length == query.Length)
            {
                float similarity = TensorPrimitives.Dot(query, vector);
                if (similarity >= MinSimilarity)
                {
                    scored.Add((d, similarity));
                }
            }
        }

        return [.. scored.OrderByDescending(static s => s.Similarity).ThenBy(static s => s.Index).Select(static s => s.Index)];
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7301, Level = LogLevel.Warning, Message = "Tool search ranks by keywords only: embedding the tools failed ({ExceptionType}).")]
        public static partial void SemanticFailed(ILogger logger, string exceptionType);
    }
}

/// <summary>One tool (or a connector whose tools are not known yet) as <see cref="ToolSearch"/> ranks it.</summary>
/// <param name="Name">Its names: the tool's and its connector's (weighted above the description).</param>
/// <param name="Description">What it does.</param>
internal readonly record struct ToolDocument(string Name, string Description)
{
    /// <summary>The text that is embedded.</summary>
    public string Text => Name + ": " + Description;
}
