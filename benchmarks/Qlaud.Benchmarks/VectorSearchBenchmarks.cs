using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Qlaud.Search;

namespace Qlaud.Benchmarks;

/// <summary>
/// Exact top-10 semantic search in <see cref="VectorIndex"/> over 10 k, 100 k and 1 M messages of synthetic 384-d unit
/// vectors (one account, one chunk each), on one thread. Baseline: the dot products alone over one contiguous array of the
/// same vectors, the memory-bandwidth floor of any exact scan.
/// </summary>
[MemoryDiagnoser]
public class VectorSearchBenchmarks
{
    private VectorIndex _index = null!;
    private float[] _matrix = null!;
    private float[] _query = null!;
    private SearchScope _scope;

    [Params(10_000, 100_000, 1_000_000)]
    public int Messages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261207);
        _index = SearchLatency.Build(Messages, random);
        _matrix = new float[Messages * 384];
        var check = new Random(20261207);
        for (int i = 0; i < Messages; i++)
        {
            SearchLatency.UnitVector(check).CopyTo(_matrix, i * 384);
        }

        _query = SearchLatency.UnitVector(random);
        _scope = new SearchScope("acct", null, null, null, null, null);
        if (_index.Search(_scope, _query, 10).Count != 10)
        {
            throw new InvalidOperationException("The index did not answer 10 hits.");
        }
    }

    [Benchmark(Baseline = true)]
    public float DotProductsOnly()
    {
        float best = float.NegativeInfinity;
        var matrix = _matrix.AsSpan();
        for (int i = 0; i < Messages; i++)
        {
            best = MathF.Max(best, TensorPrimitives.Dot(matrix.Slice(i * 384, 384), _query));
        }

        return best;
    }

    [Benchmark]
    public int ExactTop10() => _index.Search(_scope, _query, 10).Count;

    [Benchmark]
    public int ExactTop10OneEndUser() => _index.Search(_scope with { EndUserId = "user-7" }, _query, 10).Count;
}
