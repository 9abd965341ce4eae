namespace Qlaud.FakeStripe;

/// <summary>Keeps the host from hooking SIGINT/SIGTERM in the test process: the fake stops only when disposed.</summary>
internal sealed class PassiveHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
