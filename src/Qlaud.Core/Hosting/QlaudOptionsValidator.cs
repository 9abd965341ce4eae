using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Validates <see cref="QlaudOptions"/> at start-up: builds the catalog and reports every problem with the key it concerns.</summary>
internal sealed class QlaudOptionsValidator : IValidateOptions<QlaudOptions>
{
    public ValidateOptionsResult Validate(string? name, QlaudOptions options)
    {
        var errors = new List<string>();
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

        if (options.Metering.LedgerBatchSize is < 1 or > 10_000)
        {
            errors.Add("Qlaud:Metering:LedgerBatchSize must be between 1 and 10000.");
        }

        if (options.Metering.KeyCacheSeconds < 0)
        {
            errors.Add("Qlaud:Metering:KeyCacheSeconds must be 0 or more.");
        }

        errors.AddRange(CatalogBuilder.Build(options, Environment.GetEnvironmentVariable).Errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
