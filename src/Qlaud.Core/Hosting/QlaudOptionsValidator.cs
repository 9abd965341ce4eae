using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Validates <see cref="QlaudOptions"/> at start-up: builds the catalog and reports every problem with the key it concerns.</summary>
internal sealed class QlaudOptionsValidator(IServiceProvider services) : IValidateOptions<QlaudOptions>
{
    private static readonly string[] DecimalKeys = ["InputPerMTok", "OutputPerMTok", "CacheReadPerMTok", "CacheWritePerMTok", "BatchDiscountPercent"];
    private static readonly string[] IntegerKeys = ["ContextLength", "MaxOutputTokens"];

    public ValidateOptionsResult Validate(string? name, QlaudOptions options)
    {
        var errors = new List<string>();
        if (services.GetService(typeof(IConfiguration)) is IConfiguration configuration)
        {
            CheckCollectionNumbers(configuration.GetSection(QlaudOptions.SectionName).GetSection(nameof(QlaudOptions.Models)), errors);
        }

        if (options.Pricing.MarkupPercent < 0)
        {
            errors.Add("Qlaud:Pricing:MarkupPercent must be 0 or more.");
        }

        if (options.Bootstrap.MasterKey is { } key && (key.Length < 20 || !key.StartsWith("qlk_", StringComparison.Ordinal)))
        {
            errors.Add("Qlaud:Bootstrap:MasterKey must be a Qlaud key: 'qlk_live_' followed by at least 32 random characters.");
        }

        if (string.IsNullOrWhiteSpace(options.Storage.ConnectionString))
        {
            errors.Add("Qlaud:Storage:ConnectionString must not be empty.");
        }

        if (!string.Equals(options.Storage.Provider, StorageOptions.Sqlite, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(options.Storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Qlaud:Storage:Provider must be '{StorageOptions.Sqlite}' or '{StorageOptions.Postgres}' (was '{options.Storage.Provider}').");
        }

        if (options.Storage.LeaseSliceUsd is <= 0 or > 1_000_000)
        {
            errors.Add("Qlaud:Storage:LeaseSliceUsd must be more than 0 and at most 1000000.");
        }

        if (options.Storage.LeaseSlicePercent is < 1 or > 100)
        {
            errors.Add("Qlaud:Storage:LeaseSlicePercent must be between 1 and 100.");
        }

        if (options.Storage.LeaseSeconds is < 2 or > 3600)
        {
            errors.Add("Qlaud:Storage:LeaseSeconds must be between 2 and 3600.");
        }

        if (options.Metering.LedgerBatchSize is < 1 or > 10_000)
        {
            errors.Add("Qlaud:Metering:LedgerBatchSize must be between 1 and 10000.");
        }

        if (options.Metering.MaxUnwrittenEntries is < 1 or > 10_000_000)
        {
            errors.Add("Qlaud:Metering:MaxUnwrittenEntries must be between 1 and 10000000.");
        }

        if (options.Metering.KeyCacheSeconds < 0)
        {
            errors.Add("Qlaud:Metering:KeyCacheSeconds must be 0 or more.");
        }

        ValidateLimits(options.Limits, errors);
        ValidateBatches(options.Batches, errors);
        if (options.Images.UrlMinutes is < 1 or > 10_080)
        {
            errors.Add("Qlaud:Images:UrlMinutes must be between 1 and 10080 (a week).");
        }

        if (options.Images.MaxStoredBytes < 1L << 20)
        {
            errors.Add("Qlaud:Images:MaxStoredBytes must be at least 1048576 (1 MiB).");
        }
        ValidateThreads(options.Threads, errors);
        CatalogBuilder.ValidateRouting(options.Routing, errors);
        if (errors.Count == 0)
        {
            var (catalog, catalogErrors) = CatalogBuilder.Build(options, Environment.GetEnvironmentVariable);
            errors.AddRange(catalogErrors);
            if (catalog is not null && options.Threads.SummaryModel is { } summaryModel && !catalog.TryGetModel(summaryModel, out _))
            {
                errors.Add($"Qlaud:Threads:SummaryModel names '{summaryModel}', which is not a model of the catalog.");
            }
        }

        var search = options.Search;
        if (search.IndexBatchSize is < 1 or > 1000)
        {
            errors.Add("Qlaud:Search:IndexBatchSize must be between 1 and 1000.");
        }

        if (search.IndexPollMilliseconds is < 10 or > 60_000)
        {
            errors.Add("Qlaud:Search:IndexPollMilliseconds must be between 10 and 60000.");
        }

        if (search.ChunkCharacters is < 200 or > 20_000)
        {
            errors.Add("Qlaud:Search:ChunkCharacters must be between 200 and 20000.");
        }

        if (search.ApproximateAboveVectors < 0)
        {
            errors.Add("Qlaud:Search:ApproximateAboveVectors must be 0 (off) or a number of vectors.");
        }

        if (search.EmbeddingModel is { } model && string.IsNullOrWhiteSpace(model))
        {
            errors.Add("Qlaud:Search:EmbeddingModel must name a catalog embedding model or be left out.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateThreads(ThreadsOptions threads, List<string> errors)
    {
        if (threads.SummaryModel is { } model && string.IsNullOrWhiteSpace(model))
        {
            errors.Add("Qlaud:Threads:SummaryModel must name a catalog model, or be left out.");
        }

        if (threads.SummaryMaxTokens is < 16 or > 100_000)
        {
            errors.Add("Qlaud:Threads:SummaryMaxTokens must be between 16 and 100000.");
        }

        if (threads.RetentionDays is < 0 or > 36_500)
        {
            errors.Add("Qlaud:Threads:RetentionDays must be between 0 (keep threads) and 36500.");
        }

        if (threads.RetentionSweepMinutes is < 1 or > 10_080)
        {
            errors.Add("Qlaud:Threads:RetentionSweepMinutes must be between 1 and 10080 (a week).");
        }
    }

    private static void ValidateLimits(LimitsOptions limits, List<string> errors)
    {
        if (limits.MaxRequestBytes is < 1024 or > 1024 * 1024 * 1024)
        {
            errors.Add("Qlaud:Limits:MaxRequestBytes must be between 1024 (1 KiB) and 1073741824 (1 GiB).");
        }

        if (limits.MaxEventBytes is < 64 * 1024 or > 256 * 1024 * 1024)
        {
            errors.Add("Qlaud:Limits:MaxEventBytes must be between 65536 (64 KiB) and 268435456 (256 MiB).");
        }

        if (limits.LedgerQueueCapacity is < 100 or > 10_000_000)
        {
            errors.Add("Qlaud:Limits:LedgerQueueCapacity must be between 100 and 10000000.");
        }

        if (!(limits.StorageTimeoutSeconds is >= 0.1 and <= 300))
        {
            errors.Add("Qlaud:Limits:StorageTimeoutSeconds must be between 0.1 and 300 seconds.");
        }

        if (limits.FailedAuthPerMinute < 0)
        {
            errors.Add("Qlaud:Limits:FailedAuthPerMinute must be 0 (no limit) or more.");
        }
    }

    private static void ValidateBatches(BatchesOptions batches, List<string> errors)
    {
        if (batches.MaxConcurrency is < 1 or > 1000)
        {
            errors.Add("Qlaud:Batches:MaxConcurrency must be between 1 and 1000.");
        }

        if (batches.MaxConcurrencyPerBatch is < 1 or > 1000)
        {
            errors.Add("Qlaud:Batches:MaxConcurrencyPerBatch must be between 1 and 1000.");
        }

        if (batches.MaxFileBytes is < 1024 or > 2L * 1024 * 1024 * 1024)
        {
            errors.Add("Qlaud:Batches:MaxFileBytes must be between 1024 (1 KiB) and 2147483648 (2 GiB).");
        }

        if (batches.MaxRequestsPerBatch is < 1 or > 1_000_000)
        {
            errors.Add("Qlaud:Batches:MaxRequestsPerBatch must be between 1 and 1000000.");
        }

        if (!(batches.RateLimitBackoffSeconds is >= 0.01 and <= 600))
        {
            errors.Add("Qlaud:Batches:RateLimitBackoffSeconds must be between 0.01 and 600 seconds.");
        }

        if (batches.MaxRateLimitRetries is < 0 or > 100)
        {
            errors.Add("Qlaud:Batches:MaxRateLimitRetries must be between 0 and 100.");
        }

        if (!(batches.PollIntervalSeconds is >= 0.05 and <= 3600))
        {
            errors.Add("Qlaud:Batches:PollIntervalSeconds must be between 0.05 and 3600 seconds.");
        }

        if (!(batches.ClaimSeconds is >= 0.5 and <= 3600))
        {
            errors.Add("Qlaud:Batches:ClaimSeconds must be between 0.5 and 3600 seconds.");
        }
    }

    /// <summary>
    /// The configuration binder silently drops a list element (a model or a route) when one of its values does not convert,
    /// so a malformed price would make a route vanish instead of failing. Numbers inside lists are checked here first.
    /// </summary>
    private static void CheckCollectionNumbers(IConfigurationSection section, List<string> errors)
    {
        foreach (var child in section.GetChildren())
        {
            if (child.Value is { } value)
            {
                bool isDecimal = Array.IndexOf(DecimalKeys, child.Key) >= 0;
                bool isInteger = Array.IndexOf(IntegerKeys, child.Key) >= 0;
                if (isDecimal && !decimal.TryParse(value, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    errors.Add(child.Key == "BatchDiscountPercent"
                        ? $"{child.Path} '{value}' is not a number (a percent, for example 50)."
                        : $"{child.Path} '{value}' is not a number (USD per million tokens, for example 0.15).");
                }
                else if (isInteger && !int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"{child.Path} '{value}' is not a whole number.");
                }
            }

            CheckCollectionNumbers(child, errors);
        }
    }
}
