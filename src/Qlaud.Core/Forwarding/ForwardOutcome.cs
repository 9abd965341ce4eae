using Qlaud.Catalog;
using Qlaud.Metering;

namespace Qlaud.Forwarding;

/// <summary>How a forwarded exchange ended, as a value: expected failures are not exceptions on the forwarding path.</summary>
/// <param name="Error">The error; null on success. With <paramref name="ResponseWritten"/> the client already received it (an upstream error relayed, or a stream that ended in an error event).</param>
/// <param name="ResponseWritten">Whether anything was written to the client; when false and <paramref name="Error"/> is set, the surface writes the error.</param>
/// <param name="Route">The route that answered, if any.</param>
/// <param name="Usage">The usage the upstream reported.</param>
/// <param name="Attempts">How many upstream attempts were made, retries included.</param>
internal readonly record struct ForwardOutcome(QlaudError? Error, bool ResponseWritten, CatalogRoute? Route, TokenUsage? Usage, int Attempts);
