using Microsoft.Extensions.AI;
using Qlaud.Security;

namespace Qlaud.Metering;

/// <summary>Finds the caller of an in-process <see cref="IChatClient"/> (or embedding generator) call: <see cref="QlaudChatOptionKeys.ApiKey"/> or
/// <see cref="QlaudChatOptionKeys.EndUser"/> in the options, else the ambient <see cref="QlaudCallScope"/>, else
/// <see cref="QlaudCaller.InProcess"/>.</summary>
/// <remarks>An unknown, revoked, disabled or expired key is an error (401 kind): an in-process call never falls back to the
/// default account when it named a key. The error becomes a <see cref="QlaudException"/> before any upstream call.</remarks>
internal sealed class QlaudCallerResolver(KeyAuthenticator authenticator)
{
    /// <summary>An <c>AdditionalProperties</c> key holding a caller the HTTP surface already authenticated (a thread turn's tool loop),
    /// metered as that caller without authenticating a key again. Only Qlaud's own code sets it.</summary>
    public const string CallerProperty = "qlaud.internal.caller";

    public ValueTask<KeyAuthentication> ResolveAsync(ChatOptions? options, CancellationToken cancellationToken)
        => ResolvePropertiesAsync(options?.AdditionalProperties, cancellationToken);

    /// <summary>The same from the <c>AdditionalProperties</c> of any options (chat or embedding generation).</summary>
    public ValueTask<KeyAuthentication> ResolvePropertiesAsync(AdditionalPropertiesDictionary? properties, CancellationToken cancellationToken)
    {
        if (properties?.TryGetValue(CallerProperty, out var resolved) == true && resolved is QlaudCaller caller)
        {
            return ValueTask.FromResult(new KeyAuthentication(caller, null));
        }

        string? apiKey = properties?.TryGetValue(QlaudChatOptionKeys.ApiKey, out var k) == true ? k as string : null;
        string? endUser = properties?.TryGetValue(QlaudChatOptionKeys.EndUser, out var u) == true ? u as string : null;
        if (apiKey is null && endUser is null)
        {
            apiKey = QlaudCallScope.CurrentApiKey;
            endUser = QlaudCallScope.CurrentEndUser;
        }

        if (apiKey is not null)
        {
            return authenticator.AuthenticateAsync(apiKey, cancellationToken);
        }

        return ValueTask.FromResult(new KeyAuthentication(
            string.IsNullOrEmpty(endUser) ? QlaudCaller.InProcess : QlaudCaller.InProcess with { EndUserId = endUser }, null));
    }

    /// <summary>Resolves the caller or throws the <see cref="QlaudException"/> the HTTP surface would answer with a 401.</summary>
    public ValueTask<QlaudCaller> ResolveOrThrowAsync(ChatOptions? options, CancellationToken cancellationToken)
        => ResolvePropertiesOrThrowAsync(options?.AdditionalProperties, cancellationToken);

    /// <summary>Resolves the caller from options' <c>AdditionalProperties</c> or throws the <see cref="QlaudException"/> of a 401.</summary>
    public async ValueTask<QlaudCaller> ResolvePropertiesOrThrowAsync(AdditionalPropertiesDictionary? properties, CancellationToken cancellationToken)
    {
        var result = await ResolvePropertiesAsync(properties, cancellationToken).ConfigureAwait(false);
        return result.Caller ?? throw new QlaudException(result.Error!);
    }
}
