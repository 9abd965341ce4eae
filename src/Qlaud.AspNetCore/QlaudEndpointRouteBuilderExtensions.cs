using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.AspNetCore;
using Qlaud.AspNetCore.Authentication;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Qlaud HTTP surface.</summary>
public static class QlaudEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the <c>/v1</c> endpoints: OpenAI <c>POST /v1/chat/completions</c>, Anthropic <c>POST /v1/messages</c> and
    /// <c>/v1/messages/count_tokens</c>, OpenAI <c>POST /v1/embeddings</c>, <c>GET /v1/models</c>, <c>GET /v1/catalog</c>, the account endpoints:
    /// <c>/v1/keys</c> (mint, list, get, patch, revoke, per-key usage), <c>/v1/wallet</c> (balance, credit) and <c>GET /v1/usage</c>,
    /// Stripe wallet top-ups (<c>POST /v1/wallet/topup</c>, <c>GET /v1/wallet/topup/options</c>, <c>GET /v1/wallet/topup/{id}</c>)
    /// payments that named no existing account (<c>GET /v1/wallet/unapplied</c>, bootstrap master key), the signed
    /// <c>POST /v1/stripe/webhook</c> (marked <c>AllowAnonymous</c>: Stripe cannot present app credentials), the operator's
    /// <c>/v1/accounts</c>, managed threads (<c>/v1/threads</c>, <c>/v1/threads/{id}/messages</c>) and
    /// <c>DELETE /v1/end_users/{end_user_id}</c>, search over thread messages (<c>GET /v1/search</c>), the OpenAI Files and Batch
    /// APIs (<c>/v1/files</c>, <c>/v1/batches</c>), the Anthropic Message Batches API (<c>/v1/messages/batches</c>), connectors
    /// (<c>GET /v1/connectors</c>, <c>/v1/connections</c>), tools (<c>/v1/tools</c>: builtins, webhook tools, connector tools) and the
    /// hosted connect page <c>/connect/{token}</c> (outside the group;
    /// its one-time token authenticates it, and it checks antiforgery itself).
    /// </summary>
    /// <remarks>Each endpoint requires one of <see cref="QlaudAuthorizationPolicies"/> (authenticated with the Qlaud key scheme),
    /// except the public <c>GET /v1/catalog</c> and the webhook; an app's <c>RequireAuthorization(...)</c> on the returned group
    /// adds its own policy on top.</remarks>
    /// <param name="endpoints">The app or a route group.</param>
    /// <remarks>The account endpoints (keys, wallet, usage) answer 503 <c>storage_unavailable</c> when the database
    /// cannot serve them within <c>Qlaud:Limits:StorageTimeoutSeconds</c> or cannot be written. Liveness and readiness are
    /// mapped by <see cref="QlaudHealthCheckEndpointRouteBuilderExtensions.MapQlaudHealthChecks"/>.</remarks>
    /// <returns>The <c>/v1</c> route group, so the app can add authorization or rate limiting.</returns>
    /// <exception cref="InvalidOperationException"><c>AddQlaud()</c> was not called.</exception>
    public static RouteGroupBuilder MapQlaud(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<QlaudServiceCollectionExtensions.QlaudMarker>() is null)
        {
            throw new InvalidOperationException(
                "Qlaud services are not registered. Call builder.Services.AddQlaud() before app.MapQlaud().");
        }

        if (endpoints.ServiceProvider.GetService<FailedAuthenticationLimiter>() is null)
        {
            throw new InvalidOperationException(
                "Qlaud key authentication is not registered: AddQlaud() registers it when Qlaud.AspNetCore is deployed with the app.");
        }

        // Handlers are built once, here: the catalog documents are rendered up front and a bad configuration fails at start-up.
        var services = endpoints.ServiceProvider;
        var chat = ActivatorUtilities.CreateInstance<ChatEndpoints>(services);
        var catalog = ActivatorUtilities.CreateInstance<CatalogEndpoints>(services);
        var keys = ActivatorUtilities.CreateInstance<KeyEndpoints>(services);
        var wallet = ActivatorUtilities.CreateInstance<WalletEndpoints>(services);
        var usage = ActivatorUtilities.CreateInstance<UsageEndpoints>(services);
        var topUps = ActivatorUtilities.CreateInstance<WalletTopUpEndpoints>(services);
        var stripeWebhook = ActivatorUtilities.CreateInstance<StripeWebhookEndpoints>(services);
        var unapplied = ActivatorUtilities.CreateInstance<UnappliedPaymentEndpoints>(services);
        var accounts = ActivatorUtilities.CreateInstance<AccountEndpoints>(services);
        var threads = ActivatorUtilities.CreateInstance<ThreadEndpoints>(services);
        var search = ActivatorUtilities.CreateInstance<SearchEndpoints>(services);
        var files = ActivatorUtilities.CreateInstance<FileEndpoints>(services);
        var batches = ActivatorUtilities.CreateInstance<BatchEndpoints>(services);
        var messageBatches = ActivatorUtilities.CreateInstance<MessageBatchEndpoints>(services);
        var connectors = ActivatorUtilities.CreateInstance<ConnectorEndpoints>(services);
        var tools = ActivatorUtilities.CreateInstance<ToolEndpoints>(services);
        var connectPage = ActivatorUtilities.CreateInstance<ConnectPageEndpoints>(services);

        var bounded = new StorageTimeouts(
            TimeSpan.FromSeconds(services.GetRequiredService<IOptions<QlaudOptions>>().Value.Limits.StorageTimeoutSeconds),
            services.GetRequiredService<ILoggerFactory>().CreateLogger<StorageTimeouts>());

        // Each endpoint states its policy once (QlaudAuthorizationPolicies; the README's authorization matrix). Authentication
        // and authorization failures are written by the Qlaud key scheme in the envelope its QlaudErrorSurface names.
        const string AnyKey = QlaudAuthorizationPolicies.AnyKey, AccountAdmin = QlaudAuthorizationPolicies.AccountAdmin,
            AccountMaster = QlaudAuthorizationPolicies.AccountMaster, Operator = QlaudAuthorizationPolicies.Operator;
        var group = endpoints.MapGroup("/v1");
        group.MapPost("/chat/completions", (RequestDelegate)chat.ChatCompletionsAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapPost("/messages", (RequestDelegate)chat.MessagesAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapPost("/messages/count_tokens", (RequestDelegate)chat.CountTokensAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapPost("/embeddings", (RequestDelegate)chat.EmbeddingsAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapGet("/models", (RequestDelegate)catalog.ModelsAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.ByHeader);
        group.MapGet("/catalog", (RequestDelegate)catalog.CatalogAsync); // public: prices and capabilities
        group.MapPost("/keys", bounded.Bound(keys.CreateAsync)).RequireAuthorization(AccountAdmin);
        group.MapGet("/keys", bounded.Bound(keys.ListAsync)).RequireAuthorization(AccountAdmin);
        group.MapGet("/keys/{id}", bounded.Bound(keys.GetAsync)).RequireAuthorization(AccountAdmin);
        group.MapPatch("/keys/{id}", bounded.Bound(keys.PatchAsync)).RequireAuthorization(AccountAdmin);
        group.MapDelete("/keys/{id}", bounded.Bound(keys.RevokeAsync)).RequireAuthorization(AccountAdmin);
        group.MapGet("/keys/{id}/usage", bounded.Bound(keys.UsageAsync)).RequireAuthorization(AccountAdmin);
        group.MapGet("/wallet", bounded.Bound(wallet.GetAsync)).RequireAuthorization(AccountAdmin);
        group.MapPost("/wallet/credit", bounded.Bound(wallet.CreditAsync)).RequireAuthorization(Operator);
        group.MapGet("/usage", bounded.Bound(usage.GetAsync)).RequireAuthorization(AnyKey);
        group.MapPost("/wallet/topup", (RequestDelegate)topUps.CreateAsync).RequireAuthorization(AccountMaster);
        group.MapGet("/wallet/topup/options", (RequestDelegate)topUps.OptionsAsync).RequireAuthorization(AccountMaster);
        group.MapGet("/wallet/topup/{id}", (RequestDelegate)topUps.GetAsync).RequireAuthorization(AccountMaster);
        group.MapGet("/wallet/unapplied", (RequestDelegate)unapplied.ListAsync).RequireAuthorization(Operator);
        group.MapPost("/stripe/webhook", (RequestDelegate)stripeWebhook.HandleAsync).AllowAnonymous(); // signed by Stripe, not a Qlaud key
        group.MapPost("/accounts", (RequestDelegate)accounts.CreateAsync).RequireAuthorization(Operator);
        group.MapGet("/accounts", (RequestDelegate)accounts.ListAsync).RequireAuthorization(Operator);
        group.MapGet("/accounts/{id}", (RequestDelegate)accounts.GetAsync).RequireAuthorization(Operator);
        group.MapPatch("/accounts/{id}", (RequestDelegate)accounts.PatchAsync).RequireAuthorization(Operator);
        group.MapPost("/accounts/{id}/disable", (RequestDelegate)accounts.DisableAsync).RequireAuthorization(Operator);
        group.MapPost("/threads", (RequestDelegate)threads.CreateAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/threads", (RequestDelegate)threads.ListAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/threads/{id}", (RequestDelegate)threads.GetAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapPatch("/threads/{id}", (RequestDelegate)threads.PatchAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapDelete("/threads/{id}", (RequestDelegate)threads.DeleteAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapPost("/threads/{id}/messages", (RequestDelegate)threads.PostMessageAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/threads/{id}/messages", (RequestDelegate)threads.ListMessagesAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapDelete("/end_users/{end_user_id}", (RequestDelegate)threads.EraseEndUserAsync).RequireAuthorization(AccountAdmin);
        group.MapGet("/search", bounded.Bound(search.SearchAsync)).RequireAuthorization(AnyKey);
        group.MapPost("/files", (RequestDelegate)files.UploadAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapGet("/files", (RequestDelegate)files.ListAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapGet("/files/{id}", (RequestDelegate)files.GetAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapGet("/files/{id}/content", (RequestDelegate)files.ContentAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapDelete("/files/{id}", (RequestDelegate)files.DeleteAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapPost("/batches", (RequestDelegate)batches.CreateAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapGet("/batches", (RequestDelegate)batches.ListAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapGet("/batches/{id}", (RequestDelegate)batches.GetAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapPost("/batches/{id}/cancel", (RequestDelegate)batches.CancelAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.OpenAIRequest);
        group.MapPost("/messages/batches", (RequestDelegate)messageBatches.CreateAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/messages/batches", (RequestDelegate)messageBatches.ListAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/messages/batches/{id}", (RequestDelegate)messageBatches.GetAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapPost("/messages/batches/{id}/cancel", (RequestDelegate)messageBatches.CancelAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapDelete("/messages/batches/{id}", (RequestDelegate)messageBatches.DeleteAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/messages/batches/{id}/results", (RequestDelegate)messageBatches.ResultsAsync).RequireAuthorization(AnyKey).WithMetadata(QlaudErrorSurface.AnthropicRequest);
        group.MapGet("/connectors", (RequestDelegate)connectors.ListConnectorsAsync).RequireAuthorization(AnyKey);
        group.MapPost("/connections", (RequestDelegate)connectors.CreateConnectionAsync).RequireAuthorization(AnyKey);
        group.MapGet("/connections", (RequestDelegate)connectors.ListConnectionsAsync).RequireAuthorization(AnyKey);
        group.MapDelete("/connections/{id}", (RequestDelegate)connectors.DeleteConnectionAsync).RequireAuthorization(AnyKey);
        group.MapGet("/tools", (RequestDelegate)tools.ListAsync).RequireAuthorization(AnyKey);
        group.MapPost("/tools", (RequestDelegate)tools.CreateAsync).RequireAuthorization(AccountAdmin);
        group.MapGet("/tools/{id}", (RequestDelegate)tools.GetAsync).RequireAuthorization(AnyKey);
        group.MapDelete("/tools/{id}", (RequestDelegate)tools.DeleteAsync).RequireAuthorization(AccountAdmin);

        // The hosted connect page: its one-time token authenticates it, not a Qlaud key (an end user's browser has none).
        endpoints.MapGet("/connect/callback", (RequestDelegate)connectPage.CallbackAsync).AllowAnonymous();
        endpoints.MapGet("/connect/{token}", (RequestDelegate)connectPage.GetAsync).AllowAnonymous();
        endpoints.MapPost("/connect/{token}", (RequestDelegate)connectPage.PostAsync).AllowAnonymous().DisableAntiforgery();
        if (services.GetService<QlaudMcpServerBuilderExtensions.QlaudMcpMarker>() is not null)
        {
            // Qlaud as an MCP server (AddQlaudMcpServer()): the qlaud_* meta-tools for the key's end user.
            endpoints.MapMcp("/mcp").RequireAuthorization(AnyKey);
        }

        return group;
    }
}
