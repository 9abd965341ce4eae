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

    /// <summary>The most retries a route may be configured with.</summary>
    public const int MaxRetriesLimit = 10;

    /// <summary>The longest timeout accepted, in seconds (one day).</summary>
    private const double MaxTimeoutSeconds = 86_400;

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
            [EchoProvider] = new(EchoProvider, "openai", EchoBaseUrl, ImmutableDictionary<string, string>.Empty, IsAvailable: true, DefaultTimeout) { MaxRetries = 0 },
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

            var routing = options.Routing;
            if (configured is { TimeoutSeconds: { } alias, FirstByteTimeoutSeconds: { } firstByte } && alias != firstByte)
            {
                errors.Add($"{key}:TimeoutSeconds is an alias of {key}:FirstByteTimeoutSeconds; set one of them, not both with different values.");
                continue;
            }

            int before = errors.Count;
            double firstByteSeconds = Seconds(configured?.FirstByteTimeoutSeconds ?? configured?.TimeoutSeconds ?? builtIn?.FirstByteTimeoutSeconds ?? builtIn?.TimeoutSeconds,
                configured?.FirstByteTimeoutSeconds is null && configured?.TimeoutSeconds is not null ? $"{key}:TimeoutSeconds" : $"{key}:FirstByteTimeoutSeconds",
                routing.FirstByteTimeoutSeconds, errors);
            double connectSeconds = Seconds(configured?.ConnectTimeoutSeconds ?? builtIn?.ConnectTimeoutSeconds, $"{key}:ConnectTimeoutSeconds", routing.ConnectTimeoutSeconds, errors);
            double idleSeconds = Seconds(configured?.IdleTimeoutSeconds ?? builtIn?.IdleTimeoutSeconds, $"{key}:IdleTimeoutSeconds", routing.IdleTimeoutSeconds, errors);
            int maxRetries = configured?.MaxRetries ?? builtIn?.MaxRetries ?? routing.MaxRetries;
            if (configured?.MaxRetries is { } retries && retries is < 0 or > MaxRetriesLimit)
            {
                errors.Add($"{key}:MaxRetries must be between 0 and {MaxRetriesLimit}, not {retries.ToString(CultureInfo.InvariantCulture)}.");
            }

            if (errors.Count > before)
            {
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
                TimeSpan.FromSeconds(firstByteSeconds))
            {
                ApiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey,
                ConnectTimeout = TimeSpan.FromSeconds(connectSeconds),
                IdleTimeout = TimeSpan.FromSeconds(idleSeconds),
                MaxRetries = maxRetries,
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
                ContextLength = route.ContextLength ?? old.ContextLength,
                Capabilities = route.Capabilities ?? old.Capabilities,
                BatchDiscountPercent = route.BatchDiscountPercent ?? old.BatchDiscountPercent,
                LongContextThresholdTokens = route.LongContextThresholdTokens ?? old.LongContextThresholdTokens,
                LongContextInputPerMTok = route.LongContextInputPerMTok ?? old.LongContextInputPerMTok,
                LongContextOutputPerMTok = route.LongContextOutputPerMTok ?? old.LongContextOutputPerMTok,
                LongContextCacheReadPerMTok = route.LongContextCacheReadPerMTok ?? old.LongContextCacheReadPerMTok,
                LongContextCacheWritePerMTok = route.LongContextCacheWritePerMTok ?? old.LongContextCacheWritePerMTok,
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

        var capabilities = Capabilities(model.Capabilities, $"{key}:Capabilities", errors);
        bool embedding = (capabilities & ModelCapabilities.Embeddings) != 0;
        if (embedding && (capabilities & ~ModelCapabilities.Embeddings) != 0)
        {
            errors.Add($"{key}:Capabilities: an embedding model ('embeddings') has no chat capabilities (tools, vision, json, reasoning).");
        }

        int contextLength = model.ContextLength ?? (embedding ? 8_192 : 128_000);

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

            if (embedding && provider.Dialect != "openai")
            {
                errors.Add($"{routeKey}:Provider '{provider.Name}' speaks the {provider.Dialect} dialect, which has no embeddings endpoint; an embedding model needs an OpenAI-dialect provider (POST /embeddings).");
                continue;
            }

            if (embedding && provider.Name == EchoProvider)
            {
                errors.Add($"{routeKey}:Provider '{EchoProvider}' is the offline echo provider, which serves chat only, not embeddings.");
                continue;
            }

            // An embedding model bills input tokens only: its output price is optional and 0 when not given.
            long? input = Price(route.InputPerMTok, $"{routeKey}:InputPerMTok", required: true, errors);
            long? output = embedding && route.OutputPerMTok is null ? 0 : Price(route.OutputPerMTok, $"{routeKey}:OutputPerMTok", required: true, errors);
            long? cacheRead = Price(route.CacheReadPerMTok, $"{routeKey}:CacheReadPerMTok", required: false, errors);
            long? cacheWrite = Price(route.CacheWritePerMTok, $"{routeKey}:CacheWritePerMTok", required: false, errors);
            if (input is null || output is null)
            {
                continue;
            }

            if (route.ContextLength is <= 0)
            {
                errors.Add($"{routeKey}:ContextLength must be greater than 0.");
                continue;
            }

            if (route.BatchDiscountPercent is < 0 or > 100)
            {
                errors.Add($"{routeKey}:BatchDiscountPercent must be between 0 and 100.");
                continue;
            }

            var price = new ModelPrice(input.Value, output.Value, cacheRead ?? input.Value, cacheWrite ?? input.Value);
            if (route.LongContextThresholdTokens is { } threshold)
            {
                long? longInput = Price(route.LongContextInputPerMTok, $"{routeKey}:LongContextInputPerMTok", required: true, errors);
                long? longOutput = Price(route.LongContextOutputPerMTok, $"{routeKey}:LongContextOutputPerMTok", required: true, errors);
                long? longRead = Price(route.LongContextCacheReadPerMTok, $"{routeKey}:LongContextCacheReadPerMTok", required: false, errors);
                long? longWrite = Price(route.LongContextCacheWritePerMTok, $"{routeKey}:LongContextCacheWritePerMTok", required: false, errors);
                if (threshold <= 0)
                {
                    errors.Add($"{routeKey}:LongContextThresholdTokens must be greater than 0.");
                    continue;
                }

                if (longInput is null || longOutput is null)
                {
                    continue;
                }

                price = price with
                {
                    LongContext = new LongContextPrice(threshold, new ModelPrice(longInput.Value, longOutput.Value, longRead ?? longInput.Value, longWrite ?? longInput.Value)),
                };
            }
            else if (route.LongContextInputPerMTok is not null || route.LongContextOutputPerMTok is not null || route.LongContextCacheReadPerMTok is not null
                || route.LongContextCacheWritePerMTok is not null)
            {
                errors.Add($"{routeKey}:LongContextThresholdTokens is required with long-context prices.");
                continue;
            }

            var routeCapabilities = route.Capabilities is null ? capabilities : Capabilities(route.Capabilities, $"{routeKey}:Capabilities", errors);
            if (((routeCapabilities ^ capabilities) & ModelCapabilities.Embeddings) != 0)
            {
                errors.Add($"{routeKey}:Capabilities: 'embeddings' is the model's kind and cannot differ between its routes; set it in {key}:Capabilities.");
            }

            routes.Add(new CatalogRoute(id, provider, string.IsNullOrWhiteSpace(route.UpstreamModel) ? id : route.UpstreamModel, price)
            {
                ContextLength = route.ContextLength ?? contextLength,
                Capabilities = routeCapabilities,
                CapabilitiesDeclared = route.Capabilities is not null || model.Capabilities is not null,
                BatchDiscountPercent = route.BatchDiscountPercent ?? 0,
            });
        }

        if (errors.Count > before)
        {
            return null;
        }

        // An embedding model generates no tokens: its output allowance is 0 whatever is configured.
        return new CatalogModel(id, model.Name ?? id, model.Owner ?? routes[0].Provider.Name,
            contextLength, embedding ? 0 : model.MaxOutputTokens ?? 4_096, capabilities, routes.ToImmutable());
    }

    private static ModelCapabilities Capabilities(List<string>? names, string key, List<string> errors)
    {
        var capabilities = ModelCapabilities.None;
        foreach (var name in names ?? [])
        {
            if (Enum.TryParse<ModelCapabilities>(name?.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var c) && c != ModelCapabilities.None)
            {
                capabilities |= c;
            }
            else
            {
                errors.Add($"{key} '{name}' is not one of tools, vision, json, reasoning, structured_outputs, embeddings.");
            }
        }

        return capabilities;
    }

    /// <summary>A timeout in seconds: the configured value when valid, else the routing default; an invalid value is reported with its key.</summary>
    private static double Seconds(double? configured, string key, double fallback, List<string> errors)
    {
        if (configured is not { } seconds)
        {
            return fallback;
        }

        if (!(seconds > 0 && seconds <= MaxTimeoutSeconds))
        {
            errors.Add($"{key} must be greater than 0 and at most {MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}.");
            return fallback;
        }

        return seconds;
    }

    /// <summary>Validates <c>Qlaud:Routing</c>; each problem names its key.</summary>
    internal static void ValidateRouting(RoutingOptions routing, List<string> errors)
    {
        const string key = "Qlaud:Routing";
        if (routing.MaxRetries is < 0 or > MaxRetriesLimit)
        {
            errors.Add($"{key}:MaxRetries must be between 0 and {MaxRetriesLimit}, not {routing.MaxRetries.ToString(CultureInfo.InvariantCulture)}.");
        }

        Positive(routing.ConnectTimeoutSeconds, $"{key}:ConnectTimeoutSeconds", errors);
        Positive(routing.FirstByteTimeoutSeconds, $"{key}:FirstByteTimeoutSeconds", errors);
        Positive(routing.IdleTimeoutSeconds, $"{key}:IdleTimeoutSeconds", errors);
        Positive(routing.StatisticsWindowSeconds, $"{key}:StatisticsWindowSeconds", errors);
        if (!(routing.RetryBaseDelaySeconds >= 0 && routing.RetryBaseDelaySeconds <= MaxTimeoutSeconds))
        {
            errors.Add($"{key}:RetryBaseDelaySeconds must be 0 or more (and at most a day), not {routing.RetryBaseDelaySeconds.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (!(routing.MaxRetryDelaySeconds >= routing.RetryBaseDelaySeconds && routing.MaxRetryDelaySeconds <= MaxTimeoutSeconds))
        {
            errors.Add($"{key}:MaxRetryDelaySeconds must be at least {key}:RetryBaseDelaySeconds ({routing.RetryBaseDelaySeconds.ToString(CultureInfo.InvariantCulture)}) and at most a day, not {routing.MaxRetryDelaySeconds.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (!(routing.BreakerFailureRatio > 0 && routing.BreakerFailureRatio <= 1))
        {
            errors.Add($"{key}:BreakerFailureRatio must be greater than 0 and at most 1, not {routing.BreakerFailureRatio.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (routing.ThinkingSignatureSecret is { } secret && secret.Length < 32)
        {
            errors.Add($"{key}:ThinkingSignatureSecret must be at least 32 characters long (or unset, for a random secret kept in the gateway's database).");
        }

        if (routing.BreakerMinimumThroughput < 2)
        {
            errors.Add($"{key}:BreakerMinimumThroughput must be at least 2, not {routing.BreakerMinimumThroughput.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (!(routing.BreakerSamplingSeconds >= 0.5 && routing.BreakerSamplingSeconds <= MaxTimeoutSeconds))
        {
            errors.Add($"{key}:BreakerSamplingSeconds must be at least 0.5 and at most a day, not {routing.BreakerSamplingSeconds.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (!(routing.BreakerBreakSeconds >= 0.5 && routing.BreakerBreakSeconds <= MaxTimeoutSeconds))
        {
            errors.Add($"{key}:BreakerBreakSeconds must be at least 0.5 and at most a day, not {routing.BreakerBreakSeconds.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (routing.ExpectedOutputTokens < 1)
        {
            errors.Add($"{key}:ExpectedOutputTokens must be at least 1, not {routing.ExpectedOutputTokens.ToString(CultureInfo.InvariantCulture)}.");
        }
    }

    private static void Positive(double seconds, string key, List<string> errors)
    {
        if (!(seconds > 0 && seconds <= MaxTimeoutSeconds))
        {
            errors.Add($"{key} must be greater than 0 and at most {MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}.");
        }
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
