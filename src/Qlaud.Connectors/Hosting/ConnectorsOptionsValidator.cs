using Microsoft.Extensions.Options;

namespace Qlaud.Connectors;

/// <summary>Validates <c>Qlaud:Connectors</c> at start-up; each failure names its key.</summary>
internal sealed class ConnectorsOptionsValidator : IValidateOptions<ConnectorsOptions>
{
    public ValidateOptionsResult Validate(string? name, ConnectorsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string Section = ConnectorsOptions.SectionName;
        var errors = new List<string>();
        if (options.ConnectLinkMinutes is < 1 or > 1440 || double.IsNaN(options.ConnectLinkMinutes))
        {
            errors.Add($"{Section}:ConnectLinkMinutes must be between 1 and 1440.");
        }

        if (options.ToolCallTimeoutSeconds is < 1 or > 600 || double.IsNaN(options.ToolCallTimeoutSeconds))
        {
            errors.Add($"{Section}:ToolCallTimeoutSeconds must be between 1 and 600.");
        }

        if (options.MaxToolRounds is < 1 or > 50)
        {
            errors.Add($"{Section}:MaxToolRounds must be between 1 and 50.");
        }

        if (options.MaxToolResultChars is < 256 or > 1_000_000)
        {
            errors.Add($"{Section}:MaxToolResultChars must be between 256 and 1000000.");
        }

        if (options.MaxParallelCalls is < 1 or > 32)
        {
            errors.Add($"{Section}:MaxParallelCalls must be between 1 and 32.");
        }

        if (options.DefaultToolsMode is not ("dynamic" or "static" or "none"))
        {
            errors.Add($"{Section}:DefaultToolsMode must be dynamic, static or none.");
        }

        if (options.MaxStaticTools is < 1 or > 512)
        {
            errors.Add($"{Section}:MaxStaticTools must be between 1 and 512.");
        }

        if (options.PublicBaseUrl is { Length: > 0 } url && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            errors.Add($"{Section}:PublicBaseUrl must be an absolute http or https URL.");
        }

        errors.AddRange(ConnectorCatalog.Build(options).Errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
