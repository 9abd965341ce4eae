using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Catalog;
using Qlaud.Routing;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>GET /v1/models</c> (OpenAI or Anthropic list shape) and <c>GET /v1/catalog</c>; both name each model's
/// <c>kind</c> (<c>chat</c> or <c>embedding</c>) next to the provider's own fields.</summary>
/// <remarks>
/// The catalog is immutable after start-up, so each document is rendered once and served as bytes. With
/// <c>?include_latency=true</c> the catalog is rendered per request with each route's live statistics and circuit state.
/// </remarks>
internal sealed class CatalogEndpoints
{
    private readonly ModelCatalog _catalogModel;
    private readonly RouteHealthRegistry _health;
    private readonly byte[] _openAIModels;
    private readonly byte[] _anthropicModels;
    private readonly byte[] _catalog;

    public CatalogEndpoints(ModelCatalog catalog, RouteHealthRegistry health, TimeProvider time)
    {
        _catalogModel = catalog;
        _health = health;
        long created = time.GetUtcNow().ToUnixTimeSeconds();
        _openAIModels = Render(catalog, (w, c) => WriteOpenAIModels(w, c, created));
        _anthropicModels = Render(catalog, (w, c) => WriteAnthropicModels(w, c, time.GetUtcNow()));
        _catalog = Render(catalog, static (w, c) => WriteCatalog(w, c, null));
    }

    public Task ModelsAsync(HttpContext context)
        => WriteAsync(context, context.Request.Headers.ContainsKey("anthropic-version") ? _anthropicModels : _openAIModels);

    public async Task CatalogAsync(HttpContext context)
    {
        if (!IsTrue(context.Request.Query["include_latency"].ToString()))
        {
            await WriteAsync(context, _catalog).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            WriteCatalog(writer, _catalogModel, _health);
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static bool IsTrue(string value) => value.Equals("true", StringComparison.OrdinalIgnoreCase) || value == "1";

    private static async Task WriteAsync(HttpContext context, byte[] body)
    {
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private static byte[] Render(ModelCatalog catalog, Action<Utf8JsonWriter, ModelCatalog> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, catalog);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteOpenAIModels(Utf8JsonWriter writer, ModelCatalog catalog, long created)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var model in catalog.Models)
        {
            if (!model.IsAvailable)
            {
                continue;
            }

            writer.WriteStartObject();
            writer.WriteString("id", model.Id);
            writer.WriteString("object", "model");
            writer.WriteNumber("created", created);
            writer.WriteString("owned_by", model.Owner);
            writer.WriteString("kind", Kind(model));
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteAnthropicModels(Utf8JsonWriter writer, ModelCatalog catalog, DateTimeOffset created)
    {
        string? first = null, last = null;
        writer.WriteStartObject();
        writer.WriteStartArray("data");
        foreach (var model in catalog.Models)
        {
            if (!model.IsAvailable)
            {
                continue;
            }

            first ??= model.Id;
            last = model.Id;
            writer.WriteStartObject();
            writer.WriteString("type", "model");
            writer.WriteString("id", model.Id);
            writer.WriteString("display_name", model.Name);
            writer.WriteString("created_at", created.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteBoolean("has_more", false);
        writer.WriteString("first_id", first);
        writer.WriteString("last_id", last);
        writer.WriteEndObject();
    }

    private static void WriteCatalog(Utf8JsonWriter writer, ModelCatalog catalog, RouteHealthRegistry? health)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var model in catalog.Models)
        {
            writer.WriteStartObject();
            writer.WriteString("id", model.Id);
            writer.WriteString("name", model.Name);
            writer.WriteString("owner", model.Owner);
            writer.WriteString("kind", Kind(model));
            writer.WriteNumber("context_length", model.ContextLength);
            writer.WriteNumber("max_output_tokens", model.MaxOutputTokens);
            writer.WriteStartArray("capabilities");
            foreach (var capability in (ReadOnlySpan<ModelCapabilities>)[ModelCapabilities.Tools, ModelCapabilities.Vision, ModelCapabilities.Json, ModelCapabilities.Reasoning, ModelCapabilities.StructuredOutputs, ModelCapabilities.Embeddings])
            {
                if (model.Capabilities.HasFlag(capability))
                {
                    writer.WriteStringValue(capability == ModelCapabilities.StructuredOutputs ? "structured_outputs" : capability.ToString().ToLowerInvariant());
                }
            }

            writer.WriteEndArray();
            writer.WriteBoolean("available", model.IsAvailable);
            writer.WriteStartArray("routes");
            foreach (var route in model.Routes)
            {
                writer.WriteStartObject();
                writer.WriteString("provider", route.Provider.Name);
                writer.WriteString("upstream_model", route.UpstreamModel);
                writer.WriteString("dialect", route.Provider.Dialect);
                writer.WriteBoolean("available", route.Provider.IsAvailable);
                writer.WriteStartObject("pricing");
                WriteUsd(writer, "input_per_mtok", route.Price.InputMicrosPerMTok);
                WriteUsd(writer, "output_per_mtok", route.Price.OutputMicrosPerMTok);
                WriteUsd(writer, "cache_read_per_mtok", route.Price.CacheReadMicrosPerMTok);
                WriteUsd(writer, "cache_write_per_mtok", route.Price.CacheWriteMicrosPerMTok);
                if (route.Price.LongContext is { } tier)
                {
                    writer.WriteStartObject("long_context");
                    writer.WriteNumber("above_input_tokens", tier.ThresholdTokens);
                    WriteUsd(writer, "input_per_mtok", tier.Price.InputMicrosPerMTok);
                    WriteUsd(writer, "output_per_mtok", tier.Price.OutputMicrosPerMTok);
                    WriteUsd(writer, "cache_read_per_mtok", tier.Price.CacheReadMicrosPerMTok);
                    WriteUsd(writer, "cache_write_per_mtok", tier.Price.CacheWriteMicrosPerMTok);
                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
                if (health is not null)
                {
                    WriteLatency(writer, health.Get(route));
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>What a model serves: <c>chat</c> (the chat endpoints) or <c>embedding</c> (<c>POST /v1/embeddings</c>).</summary>
    private static string Kind(CatalogModel model) => model.IsEmbedding ? "embedding" : "chat";

    /// <summary>A route's live statistics over the sliding window; numbers are null until the route has served requests.</summary>
    private static void WriteLatency(Utf8JsonWriter writer, RouteHealth health)
    {
        var stats = health.Statistics.Snapshot();
        writer.WriteStartObject("latency");
        writer.WriteNumber("requests", stats.Attempts);
        WriteNumber(writer, "p50_ttft_ms", stats.P50TimeToFirstTokenMs);
        WriteNumber(writer, "p95_ttft_ms", stats.P95TimeToFirstTokenMs);
        WriteNumber(writer, "tokens_per_second", stats.TokensPerSecond is { } tps ? Math.Round(tps, 1) : null);
        WriteNumber(writer, "error_rate", stats.ErrorRate is { } rate ? Math.Round(rate, 4) : null);
        writer.WriteString("circuit", health.Circuit switch
        {
            Polly.CircuitBreaker.CircuitState.Open or Polly.CircuitBreaker.CircuitState.Isolated => "open",
            Polly.CircuitBreaker.CircuitState.HalfOpen => "half_open",
            _ => "closed",
        });
        writer.WriteEndObject();
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    // Prices are stored as integer micro-USD; the wire shows USD as a decimal number without binary rounding noise.
    private static void WriteUsd(Utf8JsonWriter writer, string name, long micros) => writer.WriteNumber(name, micros / 1_000_000m);
}
