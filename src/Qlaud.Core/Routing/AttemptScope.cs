using System.Diagnostics;
using Qlaud.Catalog;
using Qlaud.Metering;

namespace Qlaud.Routing;

/// <summary>
/// The per-request state of a run over candidate routes: which route and attempt is current, and what the attempt
/// measured (first byte, usage, response model) for statistics, spans and metrics.
/// </summary>
/// <remarks>Each caller (wire forwarder, in-process client) derives its own scope holding its request and answer, so one
/// object per request carries everything the static attempt callbacks need.</remarks>
internal abstract class AttemptScope
{
    /// <summary>The route of the current attempt.</summary>
    public CatalogRoute Route { get; internal set; } = null!;

    /// <summary>Upstream attempts made so far, the current one included (retries count).</summary>
    public int Attempts { get; internal set; }

    /// <summary>Whether another candidate route follows the current one.</summary>
    public bool HasMoreCandidates { get; internal set; }

    /// <summary>The model the caller asked for first (the slug without suffix), for answers served by a fallback model.</summary>
    public string? RequestedModel { get; init; }

    internal TimeProvider Time { get; set; } = TimeProvider.System;

    internal long StartTimestamp { get; set; }

    internal long FirstByteTimestamp { get; private set; }

    internal TokenUsage? Usage { get; private set; }

    internal string? ResponseModel { get; private set; }

    internal Activity? Activity { get; set; }

    /// <summary>Whether the answer is streamed: throughput then counts from the first byte, not from the request.</summary>
    internal bool Streamed { get; private set; }

    /// <summary>The request's metering, when it is metered: told what each attempt sent, read and delivered.</summary>
    internal MeteredCall? Meter { get; set; }

    /// <summary>Marks the request as handed to the current route's provider (which may bill its prompt from now on).</summary>
    public void MarkSent() => Meter?.Sent(Route);

    /// <summary>Marks the answer as a stream whose first byte arrived.</summary>
    public void MarkStreamStarted()
    {
        Streamed = true;
        MarkFirstByte();
        Meter?.StreamStarted();
    }

    /// <summary>Marks the first byte of the answer body (time to first token); later calls are ignored.</summary>
    public void MarkFirstByte()
    {
        if (FirstByteTimestamp == 0)
        {
            FirstByteTimestamp = Time.GetTimestamp();
        }
    }

    /// <summary>Records the usage the upstream reported.</summary>
    public void SetUsage(TokenUsage? usage)
    {
        Usage = usage;
        Meter?.ReportUsage(usage);
    }

    /// <summary>The current attempt failed before anything reached the caller (it is retried or moves on).</summary>
    internal void AttemptFailed() => Meter?.AttemptFailed();

    /// <summary>Records the model the upstream says answered.</summary>
    public void SetResponseModel(string? model) => ResponseModel = model;

    internal void BeginAttempt(CatalogRoute route)
    {
        Route = route;
        Attempts++;
        FirstByteTimestamp = 0;
        Streamed = false;
        Usage = null;
        ResponseModel = null;
        StartTimestamp = Time.GetTimestamp();
    }
}
