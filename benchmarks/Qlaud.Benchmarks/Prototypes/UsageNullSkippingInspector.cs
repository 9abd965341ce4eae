using Qlaud.Forwarding;

namespace Qlaud.Benchmarks.Prototypes;

/// <summary>
/// A measured proposal for <c>OpenAIPassthroughInspector.OnEvent</c> (not product code): treat <c>"usage":null</c> like no
/// usage at all, so the chunks OpenAI sends with <c>stream_options.include_usage</c> skip the JSON parse again.
/// </summary>
/// <remarks>
/// Wraps the real inspector and hands it every event the proposal would still parse, so usage, the end of the stream and
/// upstream errors are read by the product code; only the pre-filter differs.
/// </remarks>
internal sealed class UsageNullSkippingInspector(bool hideUsageChunk) : PassthroughInspector
{
    private readonly OpenAIPassthroughInspector _inner = new(hideUsageChunk);

    public override bool OnEvent(ReadOnlySpan<byte> rawEvent)
    {
        if (SseEvent.Parse(rawEvent, out _, out var data) == 1 && OnlyNullUsage(data) && data.IndexOf("\"error\""u8) < 0)
        {
            return true; // an ordinary chunk: relay without parsing
        }

        bool relay = _inner.OnEvent(rawEvent);
        Usage = _inner.Usage;
        Completed = _inner.Completed;
        UpstreamError = _inner.UpstreamError;
        return relay;
    }

    /// <summary>True when every <c>"usage"</c> in the chunk is followed by <c>:null</c> (optionally spaced), and there is one.</summary>
    private static bool OnlyNullUsage(ReadOnlySpan<byte> data)
    {
        bool any = false;
        int at;
        while ((at = data.IndexOf("\"usage\""u8)) >= 0)
        {
            var rest = data[(at + 7)..].TrimStart(" \t"u8);
            if (rest.IsEmpty || rest[0] != (byte)':' || !rest[1..].TrimStart(" \t"u8).StartsWith("null"u8))
            {
                return false;
            }

            any = true;
            data = rest;
        }

        return any;
    }
}
