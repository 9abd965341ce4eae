using Microsoft.AspNetCore.Http;
using Qlaud.Security;

namespace Qlaud.AspNetCore.Authentication;

/// <summary>The request's authenticated Qlaud key, set by the authentication handler for the endpoint handlers.</summary>
internal sealed class QlaudKeyFeature(QlaudCaller caller, KeyScope scope)
{
    public QlaudCaller Caller { get; } = caller;

    public KeyScope Scope { get; } = scope;

    /// <summary>The request's key. Every Qlaud endpoint that reads it requires a Qlaud policy, so authentication ran.</summary>
    /// <exception cref="InvalidOperationException">The endpoint was reached without Qlaud authentication.</exception>
    public static QlaudKeyFeature Of(HttpContext context) => context.Features.Get<QlaudKeyFeature>()
        ?? throw new InvalidOperationException("The request reached a Qlaud endpoint without Qlaud key authentication. Keep the authorization middleware (app.UseAuthorization()) before the endpoints.");
}
