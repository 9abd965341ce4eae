using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Qlaud.Forwarding;

namespace Qlaud.AspNetCore;

/// <summary>The forwarder's view of an ASP.NET Core response.</summary>
internal sealed class HttpResponseSink(HttpResponse response) : ResponseSink
{
    public override bool HasStarted => response.HasStarted;

    public override PipeWriter Writer => response.BodyWriter;

    public override void Start(int statusCode, string contentType, long? contentLength = null)
    {
        response.StatusCode = statusCode;
        response.ContentType = contentType;
        if (contentLength is { } length)
        {
            response.ContentLength = length;
        }
    }

    public override void SetHeader(string name, string value) => response.Headers[name] = value;

    public override ValueTask CompleteAsync() => new(response.CompleteAsync());
}
