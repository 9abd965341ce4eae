using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Validates <see cref="QlaudOptions"/> at start-up: builds the catalog and reports every problem with the key it concerns.</summary>
internal sealed class QlaudOptionsValidator(IServiceProvider services) : IValidateOptions<QlaudOptions>
{
    private static readonly string[] DecimalKeys = ["InputPerMTok", "OutputPerMTok", "CacheReadPerMTok", "CacheWritePerMTok"];
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
        CatalogBuilder.ValidateRouting(options.Routing, errors);
        if (errors.Count == 0)
        {
            errors.AddRange(CatalogBuilder.Build(options, Environment.GetEnvironmentVariable).Errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
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
                    errors.Add($"{child.Path} '{value}' is not a number (USD per million tokens, for example 0.15).");
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
