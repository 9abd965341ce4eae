namespace Qlaud.FakeProvider;

/// <summary>Fixed behaviour of a <see cref="FakeProviderServer"/>: where it listens and how unscripted requests are answered.</summary>
/// <remarks>Per-reply settings on <see cref="FakeReply"/> override the defaults here.</remarks>
public sealed record FakeProviderOptions
{
    /// <summary>The default answer text of unscripted requests.</summary>
    public const string DefaultReplyText = "Hello from the fake provider.";

    /// <summary>TCP port on 127.0.0.1; 0 (the default) picks a free port.</summary>
    public int Port { get; init; }

    /// <summary>Delay before response headers. Default: none.</summary>
    public TimeSpan Latency { get; init; } = TimeSpan.Zero;

    /// <summary>Characters of text per streamed chunk. Default: 8.</summary>
    public int ChunkSize { get; init; } = 8;

    /// <summary>Delay between streamed content chunks. Default: none.</summary>
    public TimeSpan ChunkDelay { get; init; } = TimeSpan.Zero;

    /// <summary>The answer text when neither the queue nor <see cref="FakeProviderServer.Responder"/> supplies a reply.</summary>
    public string DefaultText { get; init; } = DefaultReplyText;

    /// <summary>
    /// Whether requests are kept in <see cref="FakeProviderServer.Requests"/>. Default: <see langword="true"/>.
    /// Turn it off for load tests: recording keeps every body in memory.
    /// </summary>
    public bool RecordRequests { get; init; } = true;

    /// <summary>
    /// Whether the control endpoints under <c>/_fake/</c> are served (add scripted rules, list and clear the recorded
    /// requests over HTTP; see the README). Default: <see langword="false"/>. The process turns them on with <c>--control</c>.
    /// </summary>
    public bool ControlEndpoints { get; init; }

    /// <summary>Model ids listed by <c>GET /v1/models</c>.</summary>
    public IReadOnlyList<string> Models { get; init; } = ["fake-model"];

    /// <summary>Clock for <c>created</c> timestamps, received times and delays.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Port, nameof(Port));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535, nameof(Port));
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkSize, 1, nameof(ChunkSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(Latency, TimeSpan.Zero, nameof(Latency));
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkDelay, TimeSpan.Zero, nameof(ChunkDelay));
        ArgumentNullException.ThrowIfNull(DefaultText, nameof(DefaultText));
        ArgumentNullException.ThrowIfNull(Models, nameof(Models));
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}
