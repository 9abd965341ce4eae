using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps Qlaud's liveness and readiness endpoints.</summary>
public static class QlaudHealthCheckEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET /healthz</c> (liveness: the process serves requests; runs no check) and <c>GET /readyz</c> (readiness: every
    /// health check tagged <c>ready</c>, which <c>AddQlaud()</c> registers for the database and the ledger writer), both anonymous.
    /// </summary>
    /// <remarks>
    /// Separate from <c>MapQlaud()</c> because these live outside <c>/v1</c> and an app may already own such paths: call it once,
    /// or map <c>MapHealthChecks</c> yourself with a predicate on the <c>ready</c> tag. Status 200 when healthy or degraded,
    /// 503 when unhealthy; the body is JSON: <c>{"status":"Unhealthy","checks":{"qlaud_ledger":{"status":…,"description":…,"data":{…}}}}</c>.
    /// </remarks>
    /// <param name="endpoints">The app or a route group.</param>
    /// <param name="livePath">The liveness path.</param>
    /// <param name="readyPath">The readiness path.</param>
    /// <returns>A group holding both endpoints, for further conventions.</returns>
    /// <exception cref="InvalidOperationException"><c>AddQlaud()</c> was not called.</exception>
    public static RouteGroupBuilder MapQlaudHealthChecks(this IEndpointRouteBuilder endpoints, string livePath = "/healthz", string readyPath = "/readyz")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<QlaudServiceCollectionExtensions.QlaudMarker>() is null)
        {
            throw new InvalidOperationException(
                "Qlaud services are not registered. Call builder.Services.AddQlaud() before app.MapQlaudHealthChecks().");
        }

        var group = endpoints.MapGroup("");
        group.MapHealthChecks(livePath, new HealthCheckOptions { Predicate = static _ => false, ResponseWriter = WriteAsync });
        group.MapHealthChecks(readyPath, new HealthCheckOptions
        {
            Predicate = static registration => registration.Tags.Contains(QlaudServiceCollectionExtensions.ReadyTag),
            ResponseWriter = WriteAsync,
        });
        group.AllowAnonymous();
        return group;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("status", report.Status.ToString());
            writer.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                writer.WriteStartObject(name);
                writer.WriteString("status", entry.Status.ToString());
                writer.WriteString("description", entry.Description);
                writer.WriteNumber("duration_ms", Math.Round(entry.Duration.TotalMilliseconds, 1));
                if (entry.Data.Count > 0)
                {
                    writer.WriteStartObject("data");
                    foreach (var (key, value) in entry.Data)
                    {
                        if (value is int number)
                        {
                            writer.WriteNumber(key, number);
                        }
                        else
                        {
                            writer.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                        }
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
