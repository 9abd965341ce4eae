using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Qlaud.Storage;

namespace Qlaud.Connectors;

/// <summary>At start-up, erases the credentials of connections whose connector was removed from the catalog or whose server
/// address changed: a credential is only ever sent to the server it was issued for, and a removed server's tokens do not stay.</summary>
/// <remarks>Runs after the storage initializer (hosted services start in registration order). Connections whose connector is
/// merely denied to an account keep their credentials; they are not used while denied.</remarks>
internal sealed partial class ConnectionSweep(ConnectorCatalog catalog, IDbContextFactory<QlaudDbContext> factory, TimeProvider time, ILogger<ConnectionSweep> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var held = await db.Connections.Where(static c => c.CredentialCipher != null)
            .Select(static c => new { c.Id, c.ConnectorId, c.ServerUrl }).ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var connection in held)
        {
            string? reason = !catalog.TryGet(connection.ConnectorId, out var connector) ? "The connector was removed from the catalog."
                : connector.Address != connection.ServerUrl ? "The connector's server address changed; connect again."
                : null;
            if (reason is null)
            {
                continue;
            }

            string id = connection.Id;
            await db.Connections.Where(c => c.Id == id).ExecuteUpdateAsync(s => s
                .SetProperty(static c => c.CredentialCipher, (string?)null)
                .SetProperty(static c => c.CredentialVersion, static c => c.CredentialVersion + 1)
                .SetProperty(static c => c.Status, ConnectionStatus.Error)
                .SetProperty(static c => c.Error, reason)
                .SetProperty(static c => c.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
            Log.Erased(logger, id, connection.ConnectorId, reason);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Erased the credentials of connection {ConnectionId} ({ConnectorId}): {Reason}")]
        public static partial void Erased(ILogger logger, string connectionId, string connectorId, string reason);
    }
}
