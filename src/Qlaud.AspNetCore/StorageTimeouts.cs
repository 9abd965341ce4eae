using System.Data.Common;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Qlaud.Storage;

namespace Qlaud.AspNetCore;

/// <summary>Bounds the account endpoints' storage work: an endpoint that cannot read or write the database in time answers 503
/// in the OpenAI error shape instead of hanging or failing with 500.</summary>
/// <remarks>
/// The handler runs with <see cref="HttpContext.RequestAborted"/> replaced by a token that also fires after
/// <c>Qlaud:Limits:StorageTimeoutSeconds</c>, so ledger flushes and queries give up together; the deadline stops counting once
/// the response starts, so a large answer (a CSV export) is never cut off by it. The ledger writer failing
/// (<see cref="StorageUnavailableException"/>) and database errors (read-only file, disk full, I/O) are 503 too.
/// </remarks>
internal sealed partial class StorageTimeouts(TimeSpan timeout, ILogger logger)
{
    public RequestDelegate Bound(RequestDelegate handler) => context => RunAsync(handler, context);

    private async Task RunAsync(RequestDelegate handler, HttpContext context)
    {
        var requestAborted = context.RequestAborted;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        deadline.CancelAfter(timeout);
        context.Response.OnStarting(static state =>
        {
            ((CancellationTokenSource)state).CancelAfter(Timeout.InfiniteTimeSpan);
            return Task.CompletedTask;
        }, deadline);
        context.RequestAborted = deadline.Token;
        string? unavailable = null;
        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !requestAborted.IsCancellationRequested)
        {
            unavailable = $"The database did not answer within {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (Qlaud:Limits:StorageTimeoutSeconds).";
        }
        catch (StorageUnavailableException ex)
        {
            unavailable = ex.Message;
        }
        catch (Exception ex) when (ex is DbException or DbUpdateException && !requestAborted.IsCancellationRequested)
        {
            Log.StorageFailed(logger, ex, context.Request.Path);
            unavailable = "The database cannot be written or read now (" + (ex.InnerException ?? ex).Message + ").";
        }
        finally
        {
            context.RequestAborted = requestAborted;
        }

        if (unavailable is not null)
        {
            await QlaudHttp.WriteErrorAsync(context, AdminHttp.Errors, new QlaudError(QlaudErrorKind.Unavailable, unavailable, "storage_unavailable")).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Storage failed while serving {Path}")]
        public static partial void StorageFailed(ILogger logger, Exception exception, PathString path);
    }
}
