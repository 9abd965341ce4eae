namespace Qlaud.AspNetCore.Authentication;

/// <summary>Endpoint metadata: the error envelope an endpoint's authentication and authorization failures are written in, and
/// whether they name the request (<c>x-qlaud-request-id</c>, as every answer of the chat endpoints does).</summary>
/// <remarks>Endpoints without it use the OpenAI envelope, like the account endpoints.</remarks>
internal sealed class QlaudErrorSurface
{
    private QlaudErrorSurface(bool anthropic, bool byHeader, bool namesRequest)
    {
        IsAnthropic = anthropic;
        ByAnthropicVersionHeader = byHeader;
        NamesRequest = namesRequest;
    }

    /// <summary><c>{"error":{…}}</c>, with a request id: <c>/v1/chat/completions</c>.</summary>
    public static QlaudErrorSurface OpenAIRequest { get; } = new(anthropic: false, byHeader: false, namesRequest: true);

    /// <summary><c>{"type":"error","error":{"type","message"}}</c>, with a request id: <c>/v1/messages*</c>.</summary>
    public static QlaudErrorSurface AnthropicRequest { get; } = new(anthropic: true, byHeader: false, namesRequest: true);

    /// <summary>Anthropic when the request sends <c>anthropic-version</c>, else OpenAI (<c>GET /v1/models</c>).</summary>
    public static QlaudErrorSurface ByHeader { get; } = new(anthropic: false, byHeader: true, namesRequest: false);

    public bool IsAnthropic { get; }

    public bool ByAnthropicVersionHeader { get; }

    public bool NamesRequest { get; }
}
