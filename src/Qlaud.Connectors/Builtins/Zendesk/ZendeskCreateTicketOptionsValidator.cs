using Microsoft.Extensions.Options;

namespace Qlaud.Connectors.Builtins.Zendesk;

/// <summary>Refuses a subdomain that is not a bare host label (it becomes part of the API's host name) and an email without '@'.</summary>
internal sealed class ZendeskCreateTicketOptionsValidator : IValidateOptions<ZendeskCreateTicketOptions>
{
    public ValidateOptionsResult Validate(string? name, ZendeskCreateTicketOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string Section = BuiltinRegistration.SectionName + ":" + ZendeskCreateTicketTool.ToolName;
        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.Subdomain) && ZendeskCreateTicketTool.Label(options.Subdomain) is null)
        {
            errors.Add($"{Section}:Subdomain must be the account's subdomain, such as acme for https://acme.zendesk.com.");
        }

        if (!string.IsNullOrWhiteSpace(options.Email) && !options.Email.Contains('@', StringComparison.Ordinal))
        {
            errors.Add($"{Section}:Email must be the email address of the agent the API token belongs to.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
