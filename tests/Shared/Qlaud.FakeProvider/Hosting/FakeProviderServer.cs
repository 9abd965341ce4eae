using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Qlaud.FakeProvider;

/// <summary>
/// A fake LLM provider on Kestrel at 127.0.0.1 that speaks the OpenAI Chat Completions
/// (<c>POST /v1/chat/completions</c>, <c>GET /v1/models</c>) and Anthropic Messages
/// (<c>POST /v1/messages</c>, <c>POST /v1/messages/count_tokens</c>) wire formats, scripted per request.
/// </summary>
/// <remarks>
/// <para>Each chat request takes the next <see cref="Enqueue(FakeReply)">queued</see> reply; when the queue is empty,
/// a matching rule of the control script (<see cref="FakeProviderOptions.ControlEndpoints"/>) answers, then
/// <see cref="Responder"/> decides; without a responder the default text reply from
/// <see cref="FakeProviderOptions.DefaultText"/> is sent. The requested <c>model</c> is echoed back.</para>
/// <para>Every request (any path) is recorded in <see cref="Requests"/> unless
/// <see cref="FakeProviderOptions.RecordRequests"/> is off.</para>
/// </remarks>
public sealed partial class FakeProviderServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<FakeReply> _queue = new();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private volatile Func<RecordedRequest, FakeReply>? _responder;
    private int _disposed;

    private FakeProviderServer(FakeProviderOptions options)
    {
        Options = options;
        DefaultReply = FakeReply.Text(options.DefaultText);
    }

    /// <summary>The options the server was started with.</summary>
    public FakeProviderOptions Options { get; }

    /// <summary>The root address, e.g. <c>http://127.0.0.1:54321</c> (no trailing slash); the Anthropic SDK's base URL.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary><see cref="BaseUri"/> + <c>/v1</c>: the OpenAI SDK's endpoint.</summary>
    public Uri OpenAIBaseUri { get; private set; } = null!;

    /// <summary>Decides the reply when the queue is empty; <see langword="null"/> for the default reply. Thread-safe to set at any time.</summary>
    public Func<RecordedRequest, FakeReply>? Responder
    {
        get => _responder;
        set => _responder = value;
    }

    /// <summary>Scripted replies not yet consumed.</summary>
    public int PendingReplies => _queue.Count;

    internal FakeReply DefaultReply { get; }

    /// <summary>Replies matched by request content, consulted after the queue and before <see cref="Responder"/>.</summary>
    internal FakeScript Script { get; } = new();

    /// <summary>Starts a fake provider and returns once it is listening.</summary>
    /// <param name="options">Behaviour and port; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<FakeProviderServer> StartAsync(FakeProviderOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FakeProviderOptions();
        options.Validate();

        var server = new FakeProviderServer(options);
        try
        {
            await server.StartCoreAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Queues a reply for the next chat request (FIFO, one reply per request).</summary>
    /// <param name="reply">The reply.</param>
    public void Enqueue(FakeReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        _queue.Enqueue(reply);
    }

    /// <summary>Queues several replies, in order.</summary>
    /// <param name="replies">The replies.</param>
    public void Enqueue(params FakeReply[] replies)
    {
        ArgumentNullException.ThrowIfNull(replies);
        foreach (var reply in replies)
        {
            Enqueue(reply);
        }
    }

    /// <summary>Stops the server: waiting and hanging requests end, their connections are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        _stopping.Dispose();
        FailWaiters();
    }

    internal bool TryDequeue(out FakeReply reply) => _queue.TryDequeue(out reply!);

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(FakeProviderServer).Assembly.GetName().Name,
        });
        // An upstream that is not the bottleneck: a burst of a thousand connections at once fits the accept queue (Kestrel's
        // default of 512 drops the rest's SYNs, retried a second later), as it would at a hosted provider.
        builder.WebHost.UseSockets(static sockets => sockets.Backlog = 4096);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, Options.Port);
        });
        builder.Services.Configure<HostOptions>(static host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<IHostLifetime, PassiveHostLifetime>();

        var app = builder.Build();
        var handler = new FakeRequestHandler(this, Options, _stopping.Token);
        app.Run(handler.HandleAsync);
        _app = app;
        await app.StartAsync(cancellationToken);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("Kestrel reported no listening address.");
        var address = addresses.First().TrimEnd('/');
        BaseUri = new Uri(address, UriKind.Absolute);
        OpenAIBaseUri = new Uri(address + "/v1", UriKind.Absolute);
    }
}
