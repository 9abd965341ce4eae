using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Metering;
using Qlaud.Routing;

namespace Qlaud.Connectors.Tools;

/// <summary>Sits under the function-invoking client and adds up what each model round trip of one loop used: tokens, the
/// charged cost (priced as the thread's messages are), the route.</summary>
internal sealed class RoundTripRecorder(IChatClient inner, Router router, string model, decimal markupPercent) : DelegatingChatClient(inner)
{
    public int RoundTrips { get; private set; }

    public TokenUsage Usage { get; private set; }

    public long CostMicros { get; private set; }

    public CatalogRoute? Route { get; private set; }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        Record(response.Usage is { } details ? TokenUsage.From(details) : default, response.AdditionalProperties);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        TokenUsage? usage = null;
        AdditionalPropertiesDictionary? properties = null;
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            foreach (var content in update.Contents)
            {
                if (content is UsageContent u)
                {
                    usage = TokenUsage.Combine(usage, TokenUsage.From(u.Details));
                }
            }

            if (update.AdditionalProperties?.ContainsKey(QlaudResponseProperties.Route) == true)
            {
                properties = update.AdditionalProperties;
            }

            yield return update;
        }

        Record(usage ?? default, properties);
    }

    private void Record(TokenUsage usage, AdditionalPropertiesDictionary? properties)
    {
        RoundTrips++;
        Usage = new TokenUsage(Usage.Input + usage.Input, Usage.Output + usage.Output, Usage.CacheRead + usage.CacheRead, Usage.CacheWrite + usage.CacheWrite,
            Usage.Reasoning + usage.Reasoning);
        if (properties?.TryGetValue(QlaudResponseProperties.Route, out var name) == true && name is string routeName)
        {
            foreach (var candidate in router.Select(model, null, default).Candidates)
            {
                if (candidate.Name == routeName)
                {
                    Route = candidate;
                    CostMicros += MarkupPricing.Charge(candidate.Price.Cost(usage), markupPercent);
                    break;
                }
            }
        }
    }
}
