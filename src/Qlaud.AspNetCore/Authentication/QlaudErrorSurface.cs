namespace Qlaud.AspNetCore.Authentication;

/// <summary>Endpoint metadata: the error envelope an endpoint's authentication and authorization failures are written in.</summary>
/// <remarks>Endpoints without it use the OpenAI envelope, like the account endpoints.</remarks>
internal sealed class QlaudErrorSurface
{
    private QlaudErrorSurface(bool anthropic, bool byHeader)
    {
        IsAnthropic = anthropic;
        ByAnthropicVersionHeader = byHeader;
    }

    /// <summary><c>{"type":"error","error":{"type","message"}}</c>: <c>/v1/messages*</c>.</summary>
    public static QlaudErrorSurface Anthropic { get; } = new(anthropic: true, byHeader: false);

    /// <summary>Anthropic when the request sends <c>anthropic-version</c>, else OpenAI (<c>GET /v1/models</c>).</summary>
    public static QlaudErrorSurface ByHeader { get; } = new(anthropic: false, byHeader: true);

    public bool IsAnthropic { get; }

    public bool ByAnthropicVersionHeader { get; }
}
