using System.Text;
using System.Text.Json;

namespace Qlaud.LoadBench;

/// <summary>What is sent: the traffic shapes the benchmark drives.</summary>
internal enum Mix
{
    /// <summary>OpenAI Chat Completions, not streamed, passthrough.</summary>
    NonStream,

    /// <summary>OpenAI Chat Completions, streamed, passthrough.</summary>
    Stream,

    /// <summary>Anthropic Messages in through <c>/v1/messages</c> to the OpenAI-dialect fake route, streamed and translated.</summary>
    Translate,
}

/// <summary>One request shape aimed at one server: the bytes, the headers, and how to spot a token in the answer.</summary>
internal sealed record LoadTarget(string Label, Uri Uri, byte[] Body, KeyValuePair<string, string>[] Headers, bool Stream, TokenDialect Tokens)
{
    /// <summary>
    /// The gateway's routes for the model, in priority order: when set, every answer is classified by its <c>x-qlaud-route</c>
    /// and <c>x-qlaud-attempts</c> headers (served by the first route on the first try, failed over, or first route skipped).
    /// </summary>
    public IReadOnlyList<string>? Routes { get; init; }

    /// <summary>When set, each request carries the next of these keys (round-robin) instead of a key in <see cref="Headers"/>.</summary>
    public KeyRing? Keys { get; init; }

    /// <summary>
    /// When set, each request goes to the next of these URLs (round-robin) instead of <see cref="Uri"/>: several gateway
    /// processes behind one target, the load generator itself spreading the requests as a load balancer would.
    /// </summary>
    public NodeRing? Nodes { get; init; }

    /// <summary>When set, counts every request sent to this target, measured or not (probes and pre-warm included).</summary>
    public RequestTally? Tally { get; init; }
}

/// <summary>Several servers used in turn, one per request: gateway nodes without a load balancer process in front.</summary>
internal sealed class NodeRing(Uri[] uris)
{
    private long _next = -1;

    public int Count => uris.Length;

    /// <summary>The next node's URL.</summary>
    public Uri Next() => uris[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)uris.Length)];
}

/// <summary>Every request a target was sent over the whole run, by outcome: compared with what the gateway's ledger recorded.</summary>
internal sealed class RequestTally
{
    private long _answered;
    private long _failed;

    /// <summary>Requests answered 200 with a complete answer.</summary>
    public long AnsweredCount => Interlocked.Read(ref _answered);

    /// <summary>Requests that failed (an error status, a broken stream, a transport error).</summary>
    public long FailedCount => Interlocked.Read(ref _failed);

    public void Answered() => Interlocked.Increment(ref _answered);

    public void Failed() => Interlocked.Increment(ref _failed);
}

/// <summary>Many keys used in turn, one per request: a gateway serving many end users rather than one master key.</summary>
/// <param name="Header">The header the key goes in (<c>Authorization</c> or <c>x-api-key</c>).</param>
/// <param name="Values">The header values, one per key (<c>Bearer qlk_…</c> or the bare key).</param>
internal sealed class KeyRing(string header, string[] values)
{
    private long _next = -1;

    public string Header { get; } = header;

    public int Count => values.Length;

    /// <summary>The next key's header value.</summary>
    public string Next() => values[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)values.Length)];
}

/// <summary>How a streamed answer's token-bearing events are recognised.</summary>
internal enum TokenDialect
{
    None,

    /// <summary>A <c>chat.completion.chunk</c> whose delta has non-empty <c>content</c>.</summary>
    OpenAI,

    /// <summary>An Anthropic <c>content_block_delta</c> event.</summary>
    Anthropic,
}

/// <summary>The request bodies: a realistic ~2 KB chat (system prompt, a few turns), the same conversation for both dialects.</summary>
internal static class RequestBodies
{
    public const string Model = "bench-model";

    private static readonly string System =
        "You are the support assistant of an online shop. Answer briefly and precisely, in the customer's language. " +
        "Use the order tools before answering questions about deliveries; never guess a tracking number or a date. " +
        "If the customer is angry, acknowledge it once and move on to the facts.";

    private static readonly (string Role, string Text)[] Turns =
    [
        ("user", "Hi, my order 1042 was supposed to arrive on Friday and it still hasn't. The tracking page says 'in transit' since Wednesday. What is going on?"),
        ("assistant", "I'm sorry about the wait. Order 1042 left our warehouse on Tuesday with DHL; the last scan was at the Leipzig hub on Wednesday at 03:40. Parcels from that hub have been running one to two days late this week because of the holiday backlog, so I'd expect it on Monday or Tuesday."),
        ("user", "OK, but I need it by Tuesday for a birthday. If it doesn't come, can I get a refund for the shipping at least? I paid for express."),
        ("assistant", "Yes. If the parcel is not delivered by Tuesday, the express fee of 12.99 EUR is refunded automatically to your original payment method; you don't need to do anything. I can also ask DHL to prioritise it."),
        ("user", "Please do that. And can you tell me what's in the second parcel, 1043? I don't remember ordering anything else."),
    ];

    public static byte[] OpenAI(bool stream)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("messages");
            Message(w, "system", System);
            foreach (var (role, text) in Turns)
            {
                Message(w, role, text);
            }

            w.WriteEndArray();
            w.WriteString("model", Model);
            w.WriteNumber("temperature", 0.7);
            w.WriteNumber("max_completion_tokens", 512);
            if (stream)
            {
                w.WriteBoolean("stream", true);
            }

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static byte[] Anthropic()
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", Model);
            w.WriteNumber("max_tokens", 512);
            w.WriteString("system", System);
            w.WriteStartArray("messages");
            foreach (var (role, text) in Turns)
            {
                Message(w, role, text);
            }

            w.WriteEndArray();
            w.WriteNumber("temperature", 0.7);
            w.WriteBoolean("stream", true);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The fake's answer text: <paramref name="chars"/> characters of plain prose.</summary>
    public static string AnswerText(int chars)
    {
        const string Source = "Your parcel is on its way and should arrive on Monday. The express fee is refunded if it is late. ";
        var text = new StringBuilder(chars + Source.Length);
        while (text.Length < chars)
        {
            text.Append(Source);
        }

        return text.ToString(0, chars);
    }

    private static void Message(Utf8JsonWriter w, string role, string content)
    {
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteString("content", content);
        w.WriteEndObject();
    }
}
