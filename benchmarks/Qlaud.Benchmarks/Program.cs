using BenchmarkDotNet.Running;

namespace Qlaud.Benchmarks;

/// <summary>
/// Micro-benchmarks of Qlaud's hot path. Pick classes with BenchmarkDotNet's usual arguments, e.g.
/// <c>dotnet run -c Release --project benchmarks/Qlaud.Benchmarks -- --filter '*' --job short</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
