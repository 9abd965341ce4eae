using Microsoft.Extensions.Options;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>Validates <c>Qlaud:Builtins:code_execution</c> at start-up; each failure names its key.</summary>
internal sealed class CodeExecutionOptionsValidator : IValidateOptions<CodeExecutionOptions>
{
    public ValidateOptionsResult Validate(string? name, CodeExecutionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string Section = BuiltinRegistration.SectionName + ":" + CodeExecutionTool.ToolName;
        var errors = new List<string>();
        if (options.Backend is not (null or "") && !options.Backend.Equals("local", StringComparison.OrdinalIgnoreCase)
            && !options.Backend.Equals("e2b", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{Section}:Backend must be local or e2b (or unset to choose E2B when its key is set, else local).");
        }

        if (options.TimeoutSeconds is < 1 or > 3600 || double.IsNaN(options.TimeoutSeconds))
        {
            errors.Add($"{Section}:TimeoutSeconds must be between 1 and 3600.");
        }

        Range(errors, $"{Section}:CpuSeconds", options.CpuSeconds, 1, 3600);
        Range(errors, $"{Section}:MemoryMb", options.MemoryMb, 32, 65_536);
        Range(errors, $"{Section}:MaxProcesses", options.MaxProcesses, 1, 4096);
        Range(errors, $"{Section}:DiskMb", options.DiskMb, 1, 65_536);
        Range(errors, $"{Section}:MaxOutputChars", options.MaxOutputChars, 100, 10_000_000);
        Range(errors, $"{Section}:MaxConcurrent", options.MaxConcurrent, 1, 1024);
        Range(errors, $"{Section}:SandboxUserId", options.SandboxUserId, 1, int.MaxValue);
        if (options.PriceUsd is < 0)
        {
            errors.Add($"{Section}:PriceUsd must not be negative.");
        }

        foreach (var (key, path) in (ReadOnlySpan<(string, string)>)[("BwrapPath", options.BwrapPath), ("PythonPath", options.PythonPath),
                     ("PrlimitPath", options.PrlimitPath), ("SetprivPath", options.SetprivPath)])
        {
            if (!Path.IsPathFullyQualified(path ?? ""))
            {
                errors.Add($"{Section}:{key} must be an absolute path.");
            }
        }

        for (int i = 0; i < options.ReadOnlyBinds.Count; i++)
        {
            if (!Path.IsPathFullyQualified(options.ReadOnlyBinds[i] ?? ""))
            {
                errors.Add($"{Section}:ReadOnlyBinds:{i} must be an absolute path.");
            }
        }

        if (options.BaseUrl is { Length: > 0 } baseUrl && !IsHttpUrl(baseUrl))
        {
            errors.Add($"{Section}:BaseUrl must be an absolute http or https URL.");
        }

        if (string.IsNullOrWhiteSpace(options.TemplateId))
        {
            errors.Add($"{Section}:TemplateId must not be empty.");
        }

        if (!options.SandboxUrlTemplate.Contains("{sandboxID}", StringComparison.Ordinal)
            || !IsHttpUrl(options.SandboxUrlTemplate.Replace("{sandboxID}", "id", StringComparison.Ordinal).Replace("{domain}", "e2b.app", StringComparison.Ordinal)))
        {
            errors.Add($"{Section}:SandboxUrlTemplate must be an absolute http or https URL containing {{sandboxID}}.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Range(List<string> errors, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{key} must be between {min} and {max}.");
        }
    }

    private static bool IsHttpUrl(string url)
        => Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
