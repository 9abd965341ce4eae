using Microsoft.Extensions.Options;

namespace Qlaud.Connectors.Builtins.WebSearch;

/// <summary>Validates <see cref="WebSearchOptions"/> at start-up; each failure names its <c>Qlaud:Builtins:web_search:...</c> key.</summary>
internal sealed class WebSearchOptionsValidator : IValidateOptions<WebSearchOptions>
{
    private const string Section = BuiltinRegistration.SectionName + ":" + WebSearchTool.ToolName;

    public ValidateOptionsResult Validate(string? name, WebSearchOptions options)
    {
        List<string> errors = [];
        if (!string.IsNullOrWhiteSpace(options.Backend) && !string.Equals(options.Backend, "brave", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(options.Backend, "tavily", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{Section}:Backend must be 'brave' or 'tavily' (was '{options.Backend}').");
        }

        CheckUrl(options.BaseUrl, "BaseUrl", errors);
        CheckUrl(options.TavilyBaseUrl, "TavilyBaseUrl", errors);
        if (!(options.TimeoutSeconds > 0 && options.TimeoutSeconds <= 600))
        {
            errors.Add($"{Section}:TimeoutSeconds must be between 0 and 600 (was {options.TimeoutSeconds}).");
        }

        if (options.PriceUsd is < 0)
        {
            errors.Add($"{Section}:PriceUsd must not be negative (was {options.PriceUsd}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void CheckUrl(string? value, string key, List<string> errors)
    {
        if (!string.IsNullOrWhiteSpace(value) && !(Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            errors.Add($"{Section}:{key} must be an absolute http or https URL (was '{value}').");
        }
    }
}
