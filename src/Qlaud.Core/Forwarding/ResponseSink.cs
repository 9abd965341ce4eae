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

    /// <summary>Sets the status and content type (before the body starts).</summary>
    public abstract void Start(int statusCode, string contentType);

    /// <summary>Sets a response header (before the body starts).</summary>
    public abstract void SetHeader(string name, string value);
}
