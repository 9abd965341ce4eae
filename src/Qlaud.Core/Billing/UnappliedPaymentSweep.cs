using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Qlaud.Billing;

/// <summary>At start-up, applies the recorded payments of accounts that exist now (created since the payment arrived, by an
/// operator or another node).</summary>
/// <remarks>Runs after the storage initializer. A failure is logged and does not stop the gateway: the payments stay recorded
/// and the next start, or the next account creation, applies them.</remarks>
internal sealed partial class UnappliedPaymentSweep(UnappliedPaymentService payments, ILogger<UnappliedPaymentSweep> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var applied = await payments.ApplyAllAsync(cancellationToken).ConfigureAwait(false);
            if (applied.Count > 0)
            {
                Log.Applied(logger, applied.Count, applied.AmountMicros);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.Failed(logger, ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Applied {Count} recorded payments ({AmountMicros} micro-USD) to accounts that exist now")]
        public static partial void Applied(ILogger logger, int count, long amountMicros);

        [LoggerMessage(2, LogLevel.Error, "Applying recorded payments at start-up failed; they stay recorded")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
