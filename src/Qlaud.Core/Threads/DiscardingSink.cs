using System.IO.Pipelines;
using Qlaud.Forwarding;

namespace Qlaud.Threads;

/// <summary>The client sink of a call whose answer is held back and never streamed: an in-process turn, a summary call. Headers
/// go nowhere.</summary>
internal sealed class DiscardingSink : ResponseSink
{
    public static DiscardingSink Instance { get; } = new();

    public override bool HasStarted => false;

    public override PipeWriter Writer => throw new InvalidOperationException("This answer is not streamed.");

    public override void Start(int statusCode, string contentType, long? contentLength = null)
    {
    }

    public override void SetHeader(string name, string value)
    {
    }
}
