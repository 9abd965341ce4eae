using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Qlaud HTTP surface.</summary>
public static class QlaudEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the <c>/v1</c> endpoints: OpenAI <c>POST /v1/chat/completions</c>, Anthropic <c>POST /v1/messages</c> and
    /// <c>/v1/messages/count_tokens</c>, <c>GET /v1/models</c>, <c>GET /v1/catalog</c>, the account endpoints:
    /// <c>/v1/keys</c> (mint, list, get, patch, revoke, per-key usage), <c>/v1/wallet</c> (balance, credit) and <c>GET /v1/usage</c>,
    /// Stripe wallet top-ups (<c>POST /v1/wallet/topup</c>, <c>GET /v1/wallet/topup/options</c>, <c>GET /v1/wallet/topup/{id}</c>)
    /// the signed <c>POST /v1/stripe/webhook</c> (marked <c>AllowAnonymous</c>: Stripe cannot present app credentials), managed
    /// threads (<c>/v1/threads</c>, <c>/v1/threads/{id}/messages</c>) and <c>DELETE /v1/end_users/{end_user_id}</c>.
    /// </summary>
    /// <param name="endpoints">The app or a route group.</param>
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

        // Handlers are built once, here: the catalog documents are rendered up front and a bad configuration fails at start-up.
        var services = endpoints.ServiceProvider;
        var chat = ActivatorUtilities.CreateInstance<ChatEndpoints>(services);
        var catalog = ActivatorUtilities.CreateInstance<CatalogEndpoints>(services);
        var keys = ActivatorUtilities.CreateInstance<KeyEndpoints>(services);
        var wallet = ActivatorUtilities.CreateInstance<WalletEndpoints>(services);
        var usage = ActivatorUtilities.CreateInstance<UsageEndpoints>(services);
        var topUps = ActivatorUtilities.CreateInstance<WalletTopUpEndpoints>(services);
        var stripeWebhook = ActivatorUtilities.CreateInstance<StripeWebhookEndpoints>(services);
        var threads = ActivatorUtilities.CreateInstance<ThreadEndpoints>(services);

        var group = endpoints.MapGroup("/v1");
        group.MapPost("/chat/completions", (RequestDelegate)chat.ChatCompletionsAsync);
        group.MapPost("/messages", (RequestDelegate)chat.MessagesAsync);
        group.MapPost("/messages/count_tokens", (RequestDelegate)chat.CountTokensAsync);
        group.MapGet("/models", (RequestDelegate)catalog.ModelsAsync);
        group.MapGet("/catalog", (RequestDelegate)catalog.CatalogAsync);
        group.MapPost("/keys", (RequestDelegate)keys.CreateAsync);
        group.MapGet("/keys", (RequestDelegate)keys.ListAsync);
        group.MapGet("/keys/{id}", (RequestDelegate)keys.GetAsync);
        group.MapPatch("/keys/{id}", (RequestDelegate)keys.PatchAsync);
        group.MapDelete("/keys/{id}", (RequestDelegate)keys.RevokeAsync);
        group.MapGet("/keys/{id}/usage", (RequestDelegate)keys.UsageAsync);
        group.MapGet("/wallet", (RequestDelegate)wallet.GetAsync);
        group.MapPost("/wallet/credit", (RequestDelegate)wallet.CreditAsync);
        group.MapGet("/usage", (RequestDelegate)usage.GetAsync);
        group.MapPost("/wallet/topup", (RequestDelegate)topUps.CreateAsync);
        group.MapGet("/wallet/topup/options", (RequestDelegate)topUps.OptionsAsync);
        group.MapGet("/wallet/topup/{id}", (RequestDelegate)topUps.GetAsync);
        group.MapPost("/stripe/webhook", (RequestDelegate)stripeWebhook.HandleAsync).AllowAnonymous(); // signed by Stripe, not a Qlaud key
        group.MapPost("/threads", (RequestDelegate)threads.CreateAsync);
        group.MapGet("/threads", (RequestDelegate)threads.ListAsync);
        group.MapGet("/threads/{id}", (RequestDelegate)threads.GetAsync);
        group.MapPatch("/threads/{id}", (RequestDelegate)threads.PatchAsync);
        group.MapDelete("/threads/{id}", (RequestDelegate)threads.DeleteAsync);
        group.MapPost("/threads/{id}/messages", (RequestDelegate)threads.PostMessageAsync);
        group.MapGet("/threads/{id}/messages", (RequestDelegate)threads.ListMessagesAsync);
        group.MapDelete("/end_users/{end_user_id}", (RequestDelegate)threads.EraseEndUserAsync);
        return group;
    }
}
