namespace Qlaud;

/// <summary>An ambient caller for in-process calls: every <c>IChatClient</c> call inside the scope (on the same async flow) is
/// metered to the given key or end user, unless its <c>ChatOptions</c> name one.</summary>
/// <example>
/// <code>
/// using (QlaudCallScope.ForApiKey(user.QlaudKey))
/// {
///     var answer = await chat.GetResponseAsync(prompt, new ChatOptions { ModelId = "gpt-4o-mini" });
/// }
/// </code>
/// </example>
public static class QlaudCallScope
{
    private static readonly AsyncLocal<Scope?> CurrentScope = new();

    /// <summary>Meters calls in the scope to the minted key <paramref name="apiKey"/> (<c>qlk_live_…</c>).</summary>
    public static IDisposable ForApiKey(string apiKey)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        return Begin(new Scope(apiKey, null, CurrentScope.Value));
    }

    /// <summary>Attributes calls in the scope to the end user <paramref name="endUserId"/> of the default account.</summary>
    public static IDisposable ForEndUser(string endUserId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endUserId);
        return Begin(new Scope(null, endUserId, CurrentScope.Value));
    }

    internal static string? CurrentApiKey => CurrentScope.Value?.ApiKey;

    internal static string? CurrentEndUser => CurrentScope.Value?.EndUserId;

    private static Scope Begin(Scope scope)
    {
        CurrentScope.Value = scope;
        return scope;
    }

    private sealed class Scope(string? apiKey, string? endUserId, Scope? parent) : IDisposable
    {
        public string? ApiKey { get; } = apiKey;

        public string? EndUserId { get; } = endUserId;

        public void Dispose()
        {
            if (CurrentScope.Value == this)
            {
                CurrentScope.Value = parent;
            }
        }
    }
}
