namespace Qlaud.FakeProvider;

/// <summary>What the fake's <c>POST /v1/embeddings</c> returns, for tests to compare against.</summary>
public static class FakeEmbeddings
{
    /// <summary>The vector length when a request sets no <c>dimensions</c>.</summary>
    public const int DefaultDimensions = 16;

    /// <summary>The vector the fake returns for the string input <paramref name="text"/>: deterministic, of length 1.</summary>
    /// <param name="text">The input string.</param>
    /// <param name="dimensions">The request's <c>dimensions</c>.</param>
    public static float[] VectorFor(string text, int dimensions = DefaultDimensions)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        return OpenAIEmbeddingsWire.VectorFor(text, dimensions);
    }
}
