using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Qlaud.Diagnostics;

/// <summary>
/// Qlaud's tracing and metrics: one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named <see cref="Name"/>,
/// with OpenTelemetry GenAI semantic-convention names.
/// </summary>
/// <remarks>
/// Every upstream attempt is a client span (<c>chat {model}</c>) with <c>gen_ai.system</c>, <c>gen_ai.request.model</c>,
/// <c>gen_ai.response.model</c>, <c>gen_ai.usage.input_tokens</c>, <c>gen_ai.usage.output_tokens</c>, <c>server.address</c>
/// and, on failure, <c>error.type</c>; retries and fallbacks are sibling spans. Metrics: <c>gen_ai.client.operation.duration</c>
/// (s) and <c>gen_ai.client.token.usage</c> (<c>{token}</c>). Subscribe with <c>AddSource("Qlaud")</c> / <c>AddMeter("Qlaud")</c>.
/// Nothing is allocated when no listener is attached.
/// </remarks>
public static class QlaudDiagnostics
{
    /// <summary>The name of the activity source and the meter: <c>Qlaud</c>.</summary>
    public const string Name = "Qlaud";

    internal static readonly ActivitySource ActivitySource = new(Name);

    internal static readonly Meter Meter = new(Name);

    /// <summary>Duration of each upstream attempt, in seconds.</summary>
    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "gen_ai.client.operation.duration", unit: "s", description: "GenAI operation duration.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });

    /// <summary>Input and output tokens per upstream attempt.</summary>
    internal static readonly Histogram<long> TokenUsage = Meter.CreateHistogram<long>(
        "gen_ai.client.token.usage", unit: "{token}", description: "Measures number of input and output tokens used.",
        tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] });

    /// <summary>From a message's queueing (its turn's commit) to its being searchable, in seconds.</summary>
    internal static readonly Histogram<double> SearchIndexLag = Meter.CreateHistogram<double>(
        "qlaud.search.index.lag", unit: "s", description: "Time from a message being persisted to its being searchable.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });

    internal const string OperationName = "gen_ai.operation.name";
    internal const string System = "gen_ai.system";
    internal const string RequestModel = "gen_ai.request.model";
    internal const string ResponseModel = "gen_ai.response.model";
    internal const string InputTokens = "gen_ai.usage.input_tokens";
    internal const string OutputTokens = "gen_ai.usage.output_tokens";
    internal const string TokenType = "gen_ai.token.type";
    internal const string ServerAddress = "server.address";
    internal const string ServerPort = "server.port";
    internal const string ErrorType = "error.type";
    internal const string Route = "qlaud.route";
    internal const string Attempt = "qlaud.attempt";
    internal const string Model = "qlaud.model";
}
