using System.Net;
using System.Net.Sockets;

namespace Qlaud.Core.Tests.Infrastructure;

/// <summary>A loopback TCP proxy in front of a server (the test PostgreSQL) that can hold every byte in both directions, as a
/// network partition between one gateway instance and its database would, and let them through again.</summary>
internal sealed class PausableTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _sockets = [];
    private readonly Lock _lock = new();
    private TaskCompletionSource _open = Open();
    private readonly Task _accepting;

    private PausableTcpProxy(string host, int port)
    {
        _host = host;
        _port = port;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The loopback port to connect to instead of the server's.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static PausableTcpProxy Start(string host, int port) => new(host, port);

    /// <summary>Holds the bytes read from now on (in both directions) until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_lock)
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Resume()
    {
        lock (_lock)
        {
            _open.TrySetResult();
        }
    }

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
                var outbound = new TcpClient();
                await outbound.ConnectAsync(_host, _port, _stop.Token);
                lock (_lock)
                {
                    _sockets.Add(inbound);
                    _sockets.Add(outbound);
                }

                _ = PumpAsync(inbound.GetStream(), outbound.GetStream());
                _ = PumpAsync(outbound.GetStream(), inbound.GetStream());
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                Task open;
                lock (_lock)
                {
                    open = _open.Task;
                }

                await open.WaitAsync(_stop.Token);
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // A side closed, or the proxy stopped.
        }
        finally
        {
            try
            {
                to.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Resume();
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        lock (_lock)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        _stop.Dispose();
    }
}
