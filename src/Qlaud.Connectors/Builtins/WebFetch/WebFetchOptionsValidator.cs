using Microsoft.Extensions.Options;

namespace Qlaud.Connectors.Builtins.WebFetch;

/// <summary>Validates <see cref="WebFetchOptions"/> at start-up; each failure names its <c>Qlaud:Builtins:web_fetch:...</c> key.</summary>
internal sealed class WebFetchOptionsValidator : IValidateOptions<WebFetchOptions>
{
    private const string Section = BuiltinRegistration.SectionName + ":" + WebFetchTool.ToolName;

    public ValidateOptionsResult Validate(string? name, WebFetchOptions options)
    {
        List<string> errors = [];
        if (options.MaxBytes is < 1024 or > 100L * 1024 * 1024)
        {
            errors.Add($"{Section}:MaxBytes must be between 1024 and 104857600 (was {options.MaxBytes}).");
        }

        if (options.MaxOutputChars is < 256 or > 1_000_000)
        {
            errors.Add($"{Section}:MaxOutputChars must be between 256 and 1000000 (was {options.MaxOutputChars}).");
        }

        if (options.MaxRedirects is < 0 or > 10)
        {
            errors.Add($"{Section}:MaxRedirects must be between 0 and 10 (was {options.MaxRedirects}).");
        }

        if (!(options.TimeoutSeconds > 0 && options.TimeoutSeconds <= 600))
        {
            errors.Add($"{Section}:TimeoutSeconds must be between 0 and 600 (was {options.TimeoutSeconds}).");
        }

        if (options.PriceUsd is < 0)
        {
            errors.Add($"{Section}:PriceUsd must not be negative (was {options.PriceUsd}).");
        }

        if (string.IsNullOrWhiteSpace(options.UserAgent))
        {
            errors.Add($"{Section}:UserAgent must not be empty.");
        }

        for (int i = 0; i < options.AllowedPrivateHosts.Count; i++)
        {
            if (!AllowedHost.TryParse(options.AllowedPrivateHosts[i], out _))
            {
                errors.Add($"{Section}:AllowedPrivateHosts:{i} must be a host name or address, optionally with :port (was '{options.AllowedPrivateHosts[i]}').");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>One entry of <see cref="WebFetchOptions.AllowedPrivateHosts"/>: a host, and a port when the entry names one.</summary>
internal readonly record struct AllowedHost(string Host, int? Port)
{
    public static bool TryParse(string? value, out AllowedHost entry)
    {
        entry = default;
        if (string.IsNullOrWhiteSpace(value) || !Uri.TryCreate("http://" + value.Trim(), UriKind.Absolute, out var uri)
            || uri.AbsolutePath != "/" || uri.UserInfo.Length > 0 || uri.Query.Length > 0)
        {
            return false;
        }

        bool hasPort = value.Trim().EndsWith(":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        entry = new AllowedHost(uri.IdnHost.Trim('[', ']'), hasPort ? uri.Port : null);
        return true;
    }

    public bool Matches(string host, int port) => string.Equals(Host, host, StringComparison.OrdinalIgnoreCase) && (Port is null || Port == port);
}
