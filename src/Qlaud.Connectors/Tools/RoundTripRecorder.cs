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
        RoundTrips++;
        var usage = response.Usage is { } details ? TokenUsage.From(details) : default;
        Usage = new TokenUsage(Usage.Input + usage.Input, Usage.Output + usage.Output, Usage.CacheRead + usage.CacheRead, Usage.CacheWrite + usage.CacheWrite,
            Usage.Reasoning + usage.Reasoning);
        if (response.AdditionalProperties?.TryGetValue(QlaudResponseProperties.Route, out var name) == true && name is string routeName)
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

        return response;
    }
}
