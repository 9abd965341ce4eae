using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Qlaud.Connectors.Builtins;

/// <summary>The first-party builtin tools Qlaud ships; each is offered only where it is available (configured, not disabled).</summary>
internal static class BuiltinCatalog
{
    /// <summary>Registers every builtin (idempotent). One line per tool.</summary>
    public static void AddAll(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        WebSearch.WebSearchTool.Register(services);
        WebFetch.WebFetchTool.Register(services);
        CodeExecution.CodeExecutionTool.Add(services);
        BuiltinRegistration.AddBuiltin<ImageGenerationTool, ImageGenerationOptions>(services, "image_generation");
        services.AddOptions<ImageGenerationOptions>()
            .Validate(static o => o.UrlMinutes is >= 1 and <= 10_080, "Qlaud:Builtins:image_generation:UrlMinutes must be between 1 and 10080 (a week).")
            .Validate(static o => o.TimeoutSeconds is > 0 and <= 3_600, "Qlaud:Builtins:image_generation:TimeoutSeconds must be greater than 0 and at most 3600.")
            .Validate(static o => !string.IsNullOrWhiteSpace(o.Model), "Qlaud:Builtins:image_generation:Model must name an image model of the catalog.")
            .ValidateOnStart();
        BuiltinRegistration.AddBuiltin<Email.SendEmailTool, Email.SendEmailOptions>(services, Email.SendEmailTool.ToolName, VendorHttp.Repeatable);
        services.AddOptions<Email.SendEmailOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Email.SendEmailOptions>, Email.SendEmailOptionsValidator>());
        BuiltinRegistration.AddBuiltin<GitHub.GitHubCreateIssueTool, GitHub.GitHubCreateIssueOptions>(services, GitHub.GitHubCreateIssueTool.ToolName, VendorHttp.RetryRateLimitsOnly);
        BuiltinRegistration.AddBuiltin<GitHub.GitHubSearchCodeTool, GitHub.GitHubSearchCodeOptions>(services, GitHub.GitHubSearchCodeTool.ToolName, VendorHttp.Repeatable);
        BuiltinRegistration.AddBuiltin<GitHub.GitHubGetFileTool, GitHub.GitHubGetFileOptions>(services, GitHub.GitHubGetFileTool.ToolName, VendorHttp.Repeatable);
        BuiltinRegistration.AddBuiltin<Linear.LinearCreateIssueTool, Linear.LinearCreateIssueOptions>(services, Linear.LinearCreateIssueTool.ToolName, VendorHttp.RetryRateLimitsOnly);
        BuiltinRegistration.AddBuiltin<Zendesk.ZendeskCreateTicketTool, Zendesk.ZendeskCreateTicketOptions>(services, Zendesk.ZendeskCreateTicketTool.ToolName, VendorHttp.Repeatable);
        services.AddOptions<Zendesk.ZendeskCreateTicketOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Zendesk.ZendeskCreateTicketOptions>, Zendesk.ZendeskCreateTicketOptionsValidator>());
        BuiltinRegistration.AddBuiltin<Notion.NotionAppendTool, Notion.NotionAppendOptions>(services, Notion.NotionAppendTool.ToolName, VendorHttp.RetryRateLimitsOnly);
        BuiltinRegistration.AddBuiltin<Slack.SlackPostMessageTool, Slack.SlackPostMessageOptions>(services, Slack.SlackPostMessageTool.ToolName, VendorHttp.RetryRateLimitsOnly);
    }
}
