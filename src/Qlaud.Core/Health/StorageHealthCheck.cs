using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Health;

/// <summary>Readiness: the database answers a read within <c>Qlaud:Limits:StorageTimeoutSeconds</c>.</summary>
internal sealed class StorageHealthCheck(IDbContextFactory<QlaudDbContext> dbFactory, StorageInitializer storage, IOptions<QlaudOptions> options) : IHealthCheck
{
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(options.Value.Limits.StorageTimeoutSeconds);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            await storage.EnsureInitializedAsync(deadline.Token).ConfigureAwait(false);
            var db = await dbFactory.CreateDbContextAsync(deadline.Token).ConfigureAwait(false);
            await using (db.ConfigureAwait(false))
            {
                await db.Accounts.AsNoTracking().AnyAsync(deadline.Token).ConfigureAwait(false);
            }

            return HealthCheckResult.Healthy("The database answers.");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"The database did not answer within {_timeout.TotalSeconds} s.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be read: " + ex.Message, ex);
        }
    }
}
