using BenchmarkDotNet.Running;

namespace Qlaud.Benchmarks;

/// <summary>
/// Micro-benchmarks of Qlaud's hot path. Pick classes with BenchmarkDotNet's usual arguments, e.g.
/// <c>dotnet run -c Release --project benchmarks/Qlaud.Benchmarks -- --filter '*' --job short</c>; <c>-- search-latency</c>
/// runs <see cref="SearchLatency"/> and <c>-- search-indexing</c> <see cref="SearchIndexing"/> instead.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["search-latency", .. var sizes])
        {
            SearchLatency.Run(sizes);
            return;
        }

        if (args is ["search-indexing", .. var counts])
        {
            SearchIndexing.RunAsync(counts).GetAwaiter().GetResult();
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
