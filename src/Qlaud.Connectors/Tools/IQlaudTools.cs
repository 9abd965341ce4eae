using Microsoft.Extensions.AI;

namespace Qlaud.Connectors;

/// <summary>The tools a model can use through Qlaud, in process: builtins, the app's webhook tools and the end user's connector
/// tools; the service the <c>/v1/tools</c> endpoints call.</summary>
/// <remarks>
/// <para>A key with an end user sees builtins, the account's webhook tools for every end user and its own end user's, and the
/// tools of its end user's active connections. A master or admin-scope key sees every webhook tool of the account, and names
/// an end user to see that end user's connector tools. Another account's tools do not exist for the caller.</para>
/// <para>Registering and deleting webhook tools needs a master or admin-scope key (<see cref="QlaudErrorKind.Permission"/> otherwise).</para>
/// </remarks>
public interface IQlaudTools
{
    /// <summary>The tools the caller's model can use, with their input schemas.</summary>
    /// <param name="caller">Who asks.</param>
    /// <param name="endUserId">The end user whose connector tools to include (an account-wide key); the caller's own when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<IReadOnlyList<QlaudToolInfo>> ListToolsAsync(QlaudCaller caller, string? endUserId = null, CancellationToken cancellationToken = default);

    /// <summary>One tool by webhook id (<c>tool_…</c>) or builtin name; null when the caller has no such tool.</summary>
    Task<QlaudToolInfo?> GetToolAsync(QlaudCaller caller, string id, CancellationToken cancellationToken = default);

    /// <summary>Registers a webhook tool; its signing secret is in the answer and never again.</summary>
    /// <exception cref="QlaudException">Invalid fields (400), a name already taken in the account (400, <c>tool_name_taken</c>), not an account-wide key (403).</exception>
    Task<CreatedWebhookTool> CreateWebhookToolAsync(QlaudCaller caller, NewWebhookTool tool, CancellationToken cancellationToken = default);

    /// <summary>Deletes a webhook tool; false when the caller has no such tool.</summary>
    Task<bool> DeleteWebhookToolAsync(QlaudCaller caller, string id, CancellationToken cancellationToken = default);

    /// <summary>The tools of <see cref="ListToolsAsync"/> as <see cref="AIFunction"/>s bound to <paramref name="caller"/>, for an
    /// app's own <see cref="IChatClient"/> pipeline: every call is metered like in the server-side loop.</summary>
    Task<IReadOnlyList<AIFunction>> GetFunctionsAsync(QlaudCaller caller, CancellationToken cancellationToken = default);
}
