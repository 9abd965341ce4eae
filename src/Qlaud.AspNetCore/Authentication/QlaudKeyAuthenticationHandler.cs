using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Dialects;
using Qlaud.Security;

namespace Qlaud.AspNetCore.Authentication;

/// <summary>Authenticates Qlaud keys (<c>Authorization: Bearer</c> or <c>x-api-key</c>) and answers 401, 403 and 429 in the
/// endpoint's own error envelope.</summary>
/// <remarks>
/// A known key is decided from memory (the bootstrap key by a constant-time hash compare, minted keys by the key registry), so
/// authentication adds no database round trip to the request path. The principal carries the claims of
/// <see cref="QlaudClaimTypes"/>, and the endpoint handlers read the key from <see cref="QlaudKeyFeature"/>.
/// An address over <c>Qlaud:Limits:FailedAuthPerMinute</c> failures gets 429 for every key this node cannot decide from memory.
/// When an app composes its own policy with a Qlaud one, the challenge or forbid of every scheme of the policy runs in turn;
/// this handler writes its error body only while the response has not started.
/// </remarks>
internal sealed class QlaudKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    KeyAuthenticator authenticator,
    FailedAuthenticationLimiter limiter) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private static readonly QlaudError NotAllowed = new(QlaudErrorKind.Permission,
        "This endpoint is not allowed for this key by the application's authorization policy.", "insufficient_permissions");

    private static readonly QlaudError AppAuthenticationMissing = new(QlaudErrorKind.Authentication,
        "This endpoint needs the application's own authentication as well as a Qlaud key.", "unauthenticated");

    private QlaudError? _error;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = QlaudHttp.PresentedKey(Request.Headers);
        if (key.IsEmpty)
        {
            _error = new QlaudError(QlaudErrorKind.Authentication,
                authenticator.HasKeys
                    ? "Missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
                    : "This gateway has no keys configured. Set Qlaud:Bootstrap:MasterKey.",
                "missing_api_key");
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var address = Context.Connection.RemoteIpAddress;
        bool blocked = limiter.IsBlocked(address, out var retryAfter);
        var pending = authenticator.AuthenticateAsync(key, allowStorageLookup: !blocked, Context.RequestAborted);
        return pending.IsCompletedSuccessfully
            ? Task.FromResult(Complete(pending.Result, blocked, retryAfter))
            : CompleteAsync(pending);
    }

    private async Task<AuthenticateResult> CompleteAsync(ValueTask<KeyAuthentication> pending)
        => Complete(await pending.ConfigureAwait(false), blocked: false, default);

    private AuthenticateResult Complete(KeyAuthentication result, bool blocked, TimeSpan retryAfter)
    {
        if (result.Caller is { } caller)
        {
            Context.Features.Set(new QlaudKeyFeature(caller, result.Scope));
            return AuthenticateResult.Success(new AuthenticationTicket(Principal(caller, result.Scope), Scheme.Name));
        }

        if (blocked)
        {
            _error = new QlaudError(QlaudErrorKind.RateLimited, "Too many failed authentications from this address; retry later.", "too_many_failed_authentications")
            {
                RetryAfter = retryAfter,
            };
        }
        else
        {
            limiter.RecordFailure(Context.Connection.RemoteIpAddress);
            _error = result.Error ?? KeyAuthentication.Unknown.Error;
        }

        return AuthenticateResult.Fail(_error!.Message);
    }

    private ClaimsPrincipal Principal(QlaudCaller caller, KeyScope scope)
    {
        var identity = new ClaimsIdentity(Scheme.Name, QlaudClaimTypes.KeyId, QlaudClaimTypes.Scope);
        identity.AddClaim(new Claim(QlaudClaimTypes.AccountId, caller.AccountId));
        identity.AddClaim(new Claim(QlaudClaimTypes.KeyId, caller.KeyId ?? QlaudCallerExtensions.MasterKeyId));
        identity.AddClaim(new Claim(QlaudClaimTypes.Scope, KeyScopes.ToWire(scope)));
        if (caller.EndUserId is { } endUser)
        {
            identity.AddClaim(new Claim(QlaudClaimTypes.EndUserId, endUser));
        }

        return new ClaimsPrincipal(identity);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        await WriteErrorAsync(_error ?? (result.Succeeded ? AppAuthenticationMissing : KeyAuthentication.Unknown.Error!)).ConfigureAwait(false);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // Forbidden because another scheme of a composed policy authenticated the request while the Qlaud key failed: answer
        // the key's failure.
        var result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        if (!result.Succeeded)
        {
            await WriteErrorAsync(_error ?? KeyAuthentication.Unknown.Error!).ConfigureAwait(false);
            return;
        }

        var scope = Context.Features.Get<QlaudKeyFeature>()?.Scope ?? KeyScope.Standard;
        var error = NotAllowed;
        var endpoint = Context.GetEndpoint();
        if (endpoint is not null)
        {
            foreach (var data in endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>())
            {
                if (QlaudAuthenticationRegistration.Forbidden(data.Policy, scope) is { } forbidden)
                {
                    error = forbidden;
                    break;
                }
            }
        }

        await WriteErrorAsync(error).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="error"/> in the envelope of the endpoint (see <see cref="QlaudErrorSurface"/>).</summary>
    private Task WriteErrorAsync(QlaudError error)
    {
        var surface = Context.GetEndpoint()?.Metadata.GetMetadata<QlaudErrorSurface>();
        bool anthropic = surface is not null
            && (surface.IsAnthropic || (surface.ByAnthropicVersionHeader && Request.Headers.ContainsKey("anthropic-version")));
        if (surface is { NamesRequest: true } && !Response.HasStarted)
        {
            Response.Headers["x-qlaud-request-id"] = Qlaud.Diagnostics.RequestIds.New();
        }

        return QlaudHttp.WriteErrorAsync(Context, DialectRegistry.Get(anthropic ? "anthropic" : "openai"), error);
    }
}
