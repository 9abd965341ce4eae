using Microsoft.Extensions.AI;
using Qlaud.Catalog;

namespace Qlaud.Metering;

/// <summary>
/// One metered request from its reservation to its settlement: the one settle-or-release table of Qlaud, shared by the
/// HTTP forwarder, the in-process <see cref="MeteringChatClient"/> and the in-process <see cref="Embeddings.MeteringEmbeddingGenerator"/>.
/// </summary>
/// <remarks>
/// <para>The request engine reports each step as it happens, through the run's <see cref="Routing.AttemptScope"/>: a request
/// sent to a route (<see cref="Sent"/>), an attempt that failed before answering (<see cref="AttemptFailed"/>), usage read
/// (<see cref="ReportUsage"/>), a stream started, an upstream error relayed, an answer delivered. <see cref="Close"/> runs
/// exactly once on every exit path (the caller's <c>finally</c>) and applies this table:</para>
/// <list type="table">
/// <item><term>no attempt reached a provider, or every attempt failed before answering</term><description>released</description></item>
/// <item><term>usage reported (a whole answer, a cut stream, or a body read before the client left)</term><description>the reported usage at the route that answered</description></item>
/// <item><term>an upstream error status relayed (no output)</term><description>released</description></item>
/// <item><term>an answer delivered without usage</term><description>the input estimate and the output counted from the answer, else the whole output allowance (logged as estimated)</description></item>
/// <item><term>a stream relayed (whole or in part) without usage</term><description>the input estimate and the output counted from what was relayed</description></item>
/// <item><term>cancelled (the client left) while a provider was generating, before it reported usage</term><description>the input estimate: providers bill the prompt they processed</description></item>
/// <item><term>a fault in the gateway (an exception) before usage or output</term><description>released: the failure is the gateway's, not the caller's</description></item>
/// <item><term>an answer the engine priced itself delivered (<see cref="PricedCostMicros"/>: images)</term><description>that cost, the usage recorded beside it</description></item>
/// </list>
/// </remarks>
internal sealed class MeteredCall
{
    private static readonly AsyncLocal<MeteredCall?> Ambient = new();

    private readonly ISpendGuard _guard;
    private readonly IReadOnlyList<CatalogRoute> _candidates;
    private Phase _phase;

    private MeteredCall(ISpendGuard guard, SpendReservation reservation, IReadOnlyList<CatalogRoute> candidates, string? requestId, string? endUserId)
    {
        _guard = guard;
        Reservation = reservation;
        _candidates = candidates;
        RequestId = requestId;
        EndUserId = endUserId;
    }

    /// <summary>The call an in-process engine run reports to: set by <see cref="RunAsync"/> around the decorator's inner call.</summary>
    internal static MeteredCall? Current
    {
        get => Ambient.Value;
        set => Ambient.Value = value;
    }

    public SpendReservation Reservation { get; }

    /// <summary>The request's id, recorded with its ledger entry.</summary>
    public string? RequestId { get; }

    /// <summary>The end user the request names (attributed when the caller's key names none).</summary>
    public string? EndUserId { get; set; }

    /// <summary>The batch the request belongs to (recorded with its ledger entry), if any.</summary>
    public string? BatchId { get; set; }

    /// <summary>The route of the attempt in flight or of the answer.</summary>
    public CatalogRoute? Route { get; private set; }

    /// <summary>The usage the upstream reported for the current attempt.</summary>
    public TokenUsage? Usage { get; private set; }

    /// <summary>
    /// The upstream cost of an answer the engine priced itself (an image request is priced per image, not per token): when set
    /// and the answer was delivered, the call settles at this cost with the reported usage for the record.
    /// </summary>
    public long? PricedCostMicros { get; set; }

    /// <summary>Output tokens counted from what reached the caller, when the upstream reported no usage.</summary>
    public long? GeneratedOutputTokens { get; set; }

    /// <summary>
    /// The routing the metering decorator computed for its reservation (<see cref="MeteringChatClient"/>), so Qlaud's own
    /// client inside it routes the same request without selecting again; null when the call did not come from there.
    /// </summary>
    public RoutedChat? Routed { get; set; }

    /// <summary>Whether the reservation was settled or released.</summary>
    public bool IsClosed => Reservation.IsCompleted;

    /// <summary>
    /// Reserves the worst case of <paramref name="candidates"/> (every route the request may land on, fallback models
    /// included) against the caller's key cap, wallet and rate limits.
    /// </summary>
    /// <returns>The call, or the refusal (402, 429, 401) when nothing may be sent.</returns>
    public static async ValueTask<(MeteredCall? Call, QlaudError? Refusal)> ReserveAsync(ISpendGuard guard, QlaudCaller caller, IReadOnlyList<CatalogRoute> candidates,
        ModelCatalog catalog, long inputTokens, long? maxOutputTokens, string? requestId, string? endUserId, CancellationToken cancellationToken)
    {
        var estimate = guard.Estimate(candidates, catalog, inputTokens, maxOutputTokens);
        var decision = await guard.ReserveAsync(caller, estimate, cancellationToken).ConfigureAwait(false);
        return decision.Reservation is { } reservation
            ? (new MeteredCall(guard, reservation, candidates, requestId, endUserId), null)
            : (null, decision.Error);
    }

    /// <summary>Reserves a worst case the engine computed itself (markup included), as for an image request priced per image.</summary>
    /// <returns>The call, or the refusal (402, 429, 401) when nothing may be sent.</returns>
    public static async ValueTask<(MeteredCall? Call, QlaudError? Refusal)> ReserveAsync(ISpendGuard guard, QlaudCaller caller, IReadOnlyList<CatalogRoute> candidates,
        SpendEstimate estimate, string? requestId, string? endUserId, CancellationToken cancellationToken)
    {
        var decision = await guard.ReserveAsync(caller, estimate, cancellationToken).ConfigureAwait(false);
        return decision.Reservation is { } reservation
            ? (new MeteredCall(guard, reservation, candidates, requestId, endUserId), null)
            : (null, decision.Error);
    }

    /// <summary>
    /// Runs an in-process decorator's inner call as this call's engine run: the call is <see cref="Current"/> while it runs (so
    /// the Qlaud engine reports its attempts to it), <paramref name="answered"/> reports the whole answer, and <see cref="Close"/>
    /// runs on every exit: completed, cancelled by <paramref name="cancellationToken"/>, or faulted.
    /// </summary>
    public async Task<TResult> RunAsync<TState, TResult>(TState state, Func<TState, CancellationToken, Task<TResult>> inner, Action<MeteredCall, TResult> answered,
        CancellationToken cancellationToken)
    {
        // What an async method writes to an AsyncLocal never reaches its caller (the caller's execution context is restored when
        // the method returns or awaits), so Current needs no restoring here, and not restoring it saves a context copy per call.
        Current = this;
        var end = CallEnd.Faulted;
        try
        {
            var result = await inner(state, cancellationToken).ConfigureAwait(false);
            answered(this, result);
            end = CallEnd.Completed;
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            end = CallEnd.Cancelled;
            throw;
        }
        finally
        {
            Close(end);
        }
    }

    /// <summary>The route an in-process answer names in <see cref="QlaudResponseProperties.Route"/>, if any.</summary>
    public static string? AnsweringRoute(AdditionalPropertiesDictionary? properties)
        => properties?.TryGetValue(QlaudResponseProperties.Route, out var name) == true ? name as string : null;

    /// <summary>The request was handed to <paramref name="route"/>'s provider: from now on it may bill the prompt.</summary>
    public void Sent(CatalogRoute route)
    {
        Route = route;
        Usage = null;
        _phase = Phase.Sent;
    }

    /// <summary>The attempt failed before anything reached the caller (retried or moved on): that provider bills nothing.</summary>
    public void AttemptFailed()
    {
        if (_phase == Phase.Sent)
        {
            _phase = Phase.Idle;
            Usage = null;
        }
    }

    /// <summary>The upstream reported usage (a whole body read, or a stream's usage event).</summary>
    public void ReportUsage(TokenUsage? usage)
    {
        if (usage is not null)
        {
            Usage = usage;
        }
    }

    /// <summary>A stream started reaching the caller (served by <paramref name="routeName"/> when the engine did not report its route).</summary>
    public void StreamStarted(string? routeName = null)
    {
        AnsweredBy(routeName);
        _phase = Phase.Streaming;
    }

    /// <summary>The upstream's error status is relayed to the caller: no output, nothing billed.</summary>
    public void ErrorRelayed() => _phase = Phase.ErrorRelayed;

    /// <summary>
    /// The whole answer reached the caller, served by the route named <paramref name="routeName"/> (when the engine did not report it: the
    /// route an in-process answer names, else the dearest candidate, which never under-charges).
    /// </summary>
    public void Delivered(string? routeName = null)
    {
        AnsweredBy(routeName);
        if (_phase != Phase.Streaming)
        {
            _phase = Phase.Delivered;
        }
    }

    /// <summary>Settles or releases the reservation by the table above; a second call does nothing.</summary>
    /// <param name="end">How the request's handling ended.</param>
    public void Close(CallEnd end)
    {
        if (Reservation.IsCompleted)
        {
            return;
        }

        if (Route is not { } route || _phase is Phase.Idle or Phase.ErrorRelayed || Usage is null && _phase == Phase.Sent && end != CallEnd.Cancelled)
        {
            // Nothing billable came back, or the gateway failed while the provider was working: not the caller's to pay.
            _guard.Release(Reservation);
            return;
        }

        if (PricedCostMicros is { } priced && _phase == Phase.Delivered)
        {
            _guard.Settle(Reservation, new SettledUsage(route.ModelId, route.Name, Usage ?? new TokenUsage(0, 0), priced, RequestId, EndUserId) { BatchId = BatchId });
            return;
        }

        long? generated = Usage is not null ? null : _phase switch
        {
            Phase.Delivered => GeneratedOutputTokens,
            Phase.Streaming => GeneratedOutputTokens ?? 0,
            _ => 0, // cut while the provider was generating: the prompt only
        };
        _guard.Settle(Reservation, SettledUsage.FromRoute(route, Usage, Reservation, generated, RequestId, EndUserId) with { BatchId = BatchId });
    }

    private void AnsweredBy(string? routeName)
    {
        if (routeName is not null && (Route is null || Route.Name != routeName))
        {
            Route = FindRoute(routeName);
        }

        Route ??= FindRoute(null);
    }

    /// <summary>The candidate named <paramref name="name"/>; the dearest candidate when none is (never under-charges).</summary>
    private CatalogRoute FindRoute(string? name)
    {
        CatalogRoute? dearest = null;
        for (int i = 0; i < _candidates.Count; i++)
        {
            var route = _candidates[i];
            if (route.Name == name)
            {
                return route;
            }

            if (dearest is null || route.Price.OutputMicrosPerMTok + route.Price.InputMicrosPerMTok > dearest.Price.OutputMicrosPerMTok + dearest.Price.InputMicrosPerMTok)
            {
                dearest = route;
            }
        }

        return dearest!;
    }

    private enum Phase : byte
    {
        Idle,
        Sent,
        Streaming,
        ErrorRelayed,
        Delivered,
    }
}

/// <summary>How a metered request's handling ended, for <see cref="MeteredCall.Close"/>.</summary>
internal enum CallEnd : byte
{
    /// <summary>The engine returned (an answer, an error answered, or no route).</summary>
    Completed,

    /// <summary>The caller went away or the host stopped.</summary>
    Cancelled,

    /// <summary>An exception other than cancellation.</summary>
    Faulted,
}
