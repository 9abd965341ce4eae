using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Security;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>GET /v1/models</c> (OpenAI or Anthropic list shape) and <c>GET /v1/catalog</c>.</summary>
/// <remarks>The catalog is immutable after start-up, so each document is rendered once and served as bytes.</remarks>
internal sealed class CatalogEndpoints
{
    private readonly KeyAuthenticator _authenticator;
    private readonly byte[] _openAIModels;
    private readonly byte[] _anthropicModels;
    private readonly byte[] _catalog;

    public CatalogEndpoints(ModelCatalog catalog, KeyAuthenticator authenticator, TimeProvider time)
    {
        _authenticator = authenticator;
        long created = time.GetUtcNow().ToUnixTimeSeconds();
        _openAIModels = Render(catalog, (w, c) => WriteOpenAIModels(w, c, created));
        _anthropicModels = Render(catalog, (w, c) => WriteAnthropicModels(w, c, time.GetUtcNow()));
        _catalog = Render(catalog, WriteCatalog);
    }

    public async Task ModelsAsync(HttpContext context)
    {
        bool anthropic = context.Request.Headers.ContainsKey("anthropic-version");
        var dialect = DialectRegistry.Get(anthropic ? "anthropic" : "openai");
        var (caller, error) = await QlaudHttp.AuthenticateAsync(context, _authenticator).ConfigureAwait(false);
        if (caller is null)
        {
            await QlaudHttp.WriteErrorAsync(context, dialect, error!).ConfigureAwait(false);
            return;
        }

        await WriteAsync(context, anthropic ? _anthropicModels : _openAIModels).ConfigureAwait(false);
    }

    public Task CatalogAsync(HttpContext context) => WriteAsync(context, _catalog);

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

    private static void WriteCatalog(Utf8JsonWriter writer, ModelCatalog catalog)
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
            writer.WriteNumber("context_length", model.ContextLength);
            writer.WriteNumber("max_output_tokens", model.MaxOutputTokens);
            writer.WriteStartArray("capabilities");
            foreach (var capability in (ReadOnlySpan<ModelCapabilities>)[ModelCapabilities.Tools, ModelCapabilities.Vision, ModelCapabilities.Json, ModelCapabilities.Reasoning])
            {
                if (model.Capabilities.HasFlag(capability))
                {
                    writer.WriteStringValue(capability.ToString().ToLowerInvariant());
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
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    // Prices are stored as integer micro-USD; the wire shows USD as a decimal number without binary rounding noise.
    private static void WriteUsd(Utf8JsonWriter writer, string name, long micros) => writer.WriteNumber(name, micros / 1_000_000m);
}
