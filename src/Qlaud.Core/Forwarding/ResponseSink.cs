using System.IO.Pipelines;

namespace Qlaud.Forwarding;

/// <summary>Where the forwarder writes the answer for a wire client; the HTTP surface implements it over its response.</summary>
/// <remarks>Keeps Qlaud.Core free of ASP.NET Core: the core relays bytes into a <see cref="PipeWriter"/> it is handed.</remarks>
internal abstract class ResponseSink
{
    /// <summary>Whether the status line and headers were sent; after that only the body can be written.</summary>
    public abstract bool HasStarted { get; }

    /// <summary>The body.</summary>
    public abstract PipeWriter Writer { get; }

    /// <summary>Sets the status and content type (before the body starts), and the body's length when it is known in full.</summary>
    /// <remarks>A whole answer sent with its length ends for the client with its last byte: whatever the gateway does after
    /// writing it (settling the spend) is not part of the client's wait, and no chunked framing is sent.</remarks>
    public abstract void Start(int statusCode, string contentType, long? contentLength = null);

    /// <summary>Sets a response header (before the body starts).</summary>
    public abstract void SetHeader(string name, string value);

    /// <summary>Ends the response for the client (flushes what is buffered and, without a length, sends the end of the body)
    /// so work that follows the answer does not delay it. Nothing may be written after it.</summary>
    public virtual ValueTask CompleteAsync() => ValueTask.CompletedTask;
}
