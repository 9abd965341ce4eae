namespace Qlaud.FakeProvider;

/// <summary>
/// Replaces the host's ConsoleLifetime, which would hook SIGINT/SIGTERM in every process that starts a fake
/// (test hosts included) and keep it from terminating. The server is stopped only by disposing it; the
/// executable handles its own signals.
/// </summary>
internal sealed class PassiveHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
