using Microsoft.Extensions.Diagnostics.HealthChecks;
using Qlaud.Metering;

namespace Qlaud.Health;

/// <summary>Readiness: the ledger writer is committing and keeping up.</summary>
/// <remarks>Unhealthy while commits fail or the queue is full (metered requests are refused then); degraded while
/// <c>Qlaud:Metering:MaxUnwrittenEntries</c> or more entries wait (new metered requests wait for the writer then). The data
/// carries the queue length, both bounds and the last failure.</remarks>
internal sealed class LedgerHealthCheck(LedgerWriter ledger) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        int queued = ledger.Queued;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["queued"] = queued,
            ["capacity"] = ledger.Capacity,
            ["max_unwritten"] = ledger.MaxUnwritten,
        };
        if (ledger.FailingSince is { } since)
        {
            data["failing_since"] = since.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
            data["last_error"] = ledger.LastFailure ?? "";
            return Task.FromResult(HealthCheckResult.Unhealthy("The ledger cannot be written; metered requests are refused.", data: data));
        }

        if (queued >= ledger.Capacity)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The ledger queue is full; metered requests are refused.", data: data));
        }

        return Task.FromResult(queued >= ledger.MaxUnwritten
            ? HealthCheckResult.Degraded("The ledger writer is falling behind; new metered requests wait for it.", data: data)
            : HealthCheckResult.Healthy("The ledger writer keeps up.", data: data));
    }
}
