using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Qlaud.Configuration;

namespace Qlaud.Catalog;

/// <summary>Merges the built-in catalog file with configuration and validates the result.</summary>
/// <remarks>Runs once at start-up (LINQ and allocation are fine here). Every problem is collected with the configuration key it concerns.</remarks>
internal static class CatalogBuilder
{
    /// <summary>The built-in offline provider: answers in-process, needs no network or key.</summary>
    public const string EchoProvider = "qlaud";

    /// <summary>The built-in offline model that echoes the last user message.</summary>
    public const string EchoModel = "qlaud/echo";

    /// <summary>The base URL of the echo provider. The <c>.invalid</c> name never resolves: its requests are answered in-process.</summary>
    public static readonly Uri EchoBaseUrl = new("http://echo.qlaud.invalid/v1");

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    private static readonly Lazy<CatalogFile> BuiltIn = new(LoadBuiltIn);

    /// <summary>Builds the catalog, or returns the list of problems (each naming its key).</summary>
    public static (ModelCatalog? Catalog, IReadOnlyList<string> Errors) Build(QlaudOptions options, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var file = options.UseBuiltInCatalog ? BuiltIn.Value : new CatalogFile();

        var providers = BuildProviders(file, options, environment, errors);
        var models = BuildModels(file, options, providers, errors);
        return errors.Count > 0 ? (null, errors) : (new ModelCatalog(providers.Values, models), errors);
    }

    /// <summary>The built-in catalog file as shipped inside the assembly.</summary>
    internal static CatalogFile LoadBuiltIn()
    {
        using var stream = typeof(CatalogBuilder).Assembly.GetManifestResourceStream("Qlaud.Catalog.catalog.json")
            ?? throw new InvalidOperationException("The built-in catalog resource Qlaud.Catalog.catalog.json is missing from Qlaud.Core.");
        return JsonSerializer.Deserialize(stream, CatalogJsonContext.Default.CatalogFile)
            ?? throw new InvalidOperationException("The built-in catalog is empty.");
    }

    private static Dictionary<string, CatalogProvider> BuildProviders(CatalogFile file, QlaudOptions options, Func<string, string?> environment, List<string> errors)
    {
        var result = new Dictionary<string, CatalogProvider>(StringComparer.OrdinalIgnoreCase)
        {
            [EchoProvider] = new(EchoProvider, "openai", EchoBaseUrl, ImmutableDictionary<string, string>.Empty, IsAvailable: true, DefaultTimeout),
        };

        var names = file.Providers.Keys.Concat(options.Providers.Keys).Distinct(StringComparer.OrdinalIgnoreCase);
        foreach (var name in names)
        {
            if (string.Equals(name, EchoProvider, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Qlaud:Providers:{name}: the provider name '{EchoProvider}' is reserved for the built-in offline provider.");
                continue;
            }

            file.Providers.TryGetValue(name, out var builtIn);
            options.Providers.TryGetValue(name, out var configured);
            string key = $"Qlaud:Providers:{name}";

            string? dialect = configured?.Dialect ?? builtIn?.Dialect;
            if (dialect is null)
            {
                errors.Add($"{key}:Dialect is required for a provider that is not built in (use 'openai' or 'anthropic').");
                continue;
            }

            dialect = dialect.Trim().ToLowerInvariant();
            if (dialect is not ("openai" or "anthropic"))
            {
                errors.Add($"{key}:Dialect '{dialect}' is not supported (use 'openai' or 'anthropic').");
                continue;
            }

            string? baseUrl = configured?.BaseUrl ?? builtIn?.BaseUrl;
            if (string.IsNullOrWhiteSpace(baseUrl)
                || !Uri.TryCreate(baseUrl.TrimEnd('/'), UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"{key}:BaseUrl '{baseUrl}' is not an absolute http or https URL.");
                continue;
            }

            double? timeoutSeconds = configured?.TimeoutSeconds ?? builtIn?.TimeoutSeconds;
            if (timeoutSeconds is <= 0)
            {
                errors.Add($"{key}:TimeoutSeconds must be greater than 0.");
                continue;
            }

            string? envVar = configured?.ApiKeyEnvironmentVariable ?? builtIn?.ApiKeyEnvironmentVariable;
            string? apiKey = configured?.ApiKey;
            if (string.IsNullOrEmpty(apiKey) && !string.IsNullOrEmpty(envVar))
            {
                apiKey = environment(envVar);
            }

            bool enabled = configured?.Enabled ?? builtIn?.Enabled ?? true;

            // A provider the operator configured explicitly with a base URL but no key (a local vLLM or Ollama) is usable;
            // a built-in cloud provider without a key is not, so its routes are skipped instead of failing with 401.
            bool explicitlyLocal = configured?.BaseUrl is not null && builtIn is null;
            bool available = enabled && (!string.IsNullOrEmpty(apiKey) || explicitlyLocal);

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (h, v) in builtIn?.Headers ?? [])
            {
                headers[h] = v;
            }

            foreach (var (h, v) in configured?.Headers ?? [])
            {
                headers[h] = v;
            }

            result[name] = new CatalogProvider(name, dialect, uri, headers.ToImmutableDictionary(StringComparer.OrdinalIgnoreCase), available,
                timeoutSeconds is { } s ? TimeSpan.FromSeconds(s) : DefaultTimeout)
            {
                ApiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey,
            };
        }

        return result;
    }

    private static List<CatalogModel> BuildModels(CatalogFile file, QlaudOptions options, Dictionary<string, CatalogProvider> providers, List<string> errors)
    {
        var merged = new Dictionary<string, (ModelOptions Model, string Key)>(StringComparer.OrdinalIgnoreCase)
        {
            [EchoModel] = (new ModelOptions
            {
                Id = EchoModel,
                Name = "Qlaud echo (offline)",
                Owner = "qlaud",
                ContextLength = 1_000_000,
                MaxOutputTokens = 1_000_000,
                Capabilities = ["json"],
                Routes = [new RouteOptions { Provider = EchoProvider, UpstreamModel = "echo", InputPerMTok = 0, OutputPerMTok = 0 }],
            }, "built-in qlaud/echo"),
        };

        for (int i = 0; i < file.Models.Count; i++)
        {
            var model = file.Models[i];
            if (string.IsNullOrWhiteSpace(model.Id))
            {
                errors.Add($"built-in catalog models[{i}]: id is required.");
                continue;
            }

            merged[model.Id] = (model, $"built-in catalog model '{model.Id}'");
        }

        for (int i = 0; i < options.Models.Count; i++)
        {
            var model = options.Models[i];
            string key = $"Qlaud:Models:{i}";
            if (string.IsNullOrWhiteSpace(model.Id))
            {
                errors.Add($"{key}:Id is required.");
                continue;
            }

            merged[model.Id] = merged.TryGetValue(model.Id, out var existing)
                ? (Override(existing.Model, model), key)
                : (model, key);
        }

        var result = new List<CatalogModel>(merged.Count);
        foreach (var (id, (model, key)) in merged)
        {
            if (ToModel(id, model, key, providers, errors) is { } built)
            {
                result.Add(built);
            }
        }

        return result;
    }

    private static ModelOptions Override(ModelOptions builtIn, ModelOptions configured)
    {
        var routes = builtIn.Routes.Select(static r => r).ToList();
        foreach (var route in configured.Routes)
        {
            int at = routes.FindIndex(r => string.Equals(r.Provider, route.Provider, StringComparison.OrdinalIgnoreCase));
            if (at < 0)
            {
                routes.Add(route);
                continue;
            }

            var old = routes[at];
            routes[at] = new RouteOptions
            {
                Provider = old.Provider,
                UpstreamModel = route.UpstreamModel ?? old.UpstreamModel,
                InputPerMTok = route.InputPerMTok ?? old.InputPerMTok,
                OutputPerMTok = route.OutputPerMTok ?? old.OutputPerMTok,
                CacheReadPerMTok = route.CacheReadPerMTok ?? old.CacheReadPerMTok,
                CacheWritePerMTok = route.CacheWritePerMTok ?? old.CacheWritePerMTok,
            };
        }

        return new ModelOptions
        {
            Id = builtIn.Id,
            Name = configured.Name ?? builtIn.Name,
            Owner = configured.Owner ?? builtIn.Owner,
            ContextLength = configured.ContextLength ?? builtIn.ContextLength,
            MaxOutputTokens = configured.MaxOutputTokens ?? builtIn.MaxOutputTokens,
            Capabilities = configured.Capabilities ?? builtIn.Capabilities,
            Routes = routes,
        };
    }

    private static CatalogModel? ToModel(string id, ModelOptions model, string key, Dictionary<string, CatalogProvider> providers, List<string> errors)
    {
        int before = errors.Count;
        if (id.Contains(':', StringComparison.Ordinal))
        {
            errors.Add($"{key}:Id '{id}' must not contain ':' (the suffixes :nitro and :floor are routing variants).");
        }

        if (model.ContextLength is <= 0)
        {
            errors.Add($"{key}:ContextLength must be greater than 0.");
        }

        if (model.MaxOutputTokens is <= 0)
        {
            errors.Add($"{key}:MaxOutputTokens must be greater than 0.");
        }

        var capabilities = ModelCapabilities.None;
        foreach (var name in model.Capabilities ?? [])
        {
            if (Enum.TryParse<ModelCapabilities>(name, ignoreCase: true, out var c) && c != ModelCapabilities.None)
            {
                capabilities |= c;
            }
            else
            {
                errors.Add($"{key}:Capabilities '{name}' is not one of tools, vision, json, reasoning.");
            }
        }

        if (model.Routes.Count == 0)
        {
            errors.Add($"{key}:Routes must name at least one route.");
        }

        var routes = ImmutableArray.CreateBuilder<CatalogRoute>(model.Routes.Count);
        for (int j = 0; j < model.Routes.Count; j++)
        {
            var route = model.Routes[j];
            string routeKey = $"{key}:Routes:{j.ToString(CultureInfo.InvariantCulture)}";
            if (string.IsNullOrWhiteSpace(route.Provider) || !providers.TryGetValue(route.Provider, out var provider))
            {
                errors.Add($"{routeKey}:Provider '{route.Provider}' is not a configured or built-in provider.");
                continue;
            }

            long? input = Price(route.InputPerMTok, $"{routeKey}:InputPerMTok", required: true, errors);
            long? output = Price(route.OutputPerMTok, $"{routeKey}:OutputPerMTok", required: true, errors);
            long? cacheRead = Price(route.CacheReadPerMTok, $"{routeKey}:CacheReadPerMTok", required: false, errors);
            long? cacheWrite = Price(route.CacheWritePerMTok, $"{routeKey}:CacheWritePerMTok", required: false, errors);
            if (input is null || output is null)
            {
                continue;
            }

            routes.Add(new CatalogRoute(id, provider, string.IsNullOrWhiteSpace(route.UpstreamModel) ? id : route.UpstreamModel,
                new ModelPrice(input.Value, output.Value, cacheRead ?? input.Value, cacheWrite ?? input.Value)));
        }

        if (errors.Count > before)
        {
            return null;
        }

        return new CatalogModel(id, model.Name ?? id, model.Owner ?? routes[0].Provider.Name,
            model.ContextLength ?? 128_000, model.MaxOutputTokens ?? 4_096, capabilities, routes.ToImmutable());
    }

    private static long? Price(decimal? usd, string key, bool required, List<string> errors)
    {
        if (usd is null)
        {
            if (required)
            {
                errors.Add($"{key} is required (USD per million tokens, for example 0.15).");
            }

            return null;
        }

        if (usd < 0 || usd > 100_000)
        {
            errors.Add($"{key} must be between 0 and 100000 USD per million tokens, not {usd.Value.ToString(CultureInfo.InvariantCulture)}.");
            return null;
        }

        return ModelPrice.MicrosFromUsd(usd.Value);
    }
}
