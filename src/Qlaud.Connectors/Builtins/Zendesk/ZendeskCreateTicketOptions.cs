namespace Qlaud.Connectors.Builtins.Zendesk;

/// <summary>Settings of <c>zendesk_create_ticket</c>, in <c>Qlaud:Builtins:zendesk_create_ticket</c>. The key is a Zendesk API
/// token (<see cref="BuiltinToolOptions.ApiKey"/>, else <c>ZENDESK_API_TOKEN</c>), used with <see cref="Email"/> for basic
/// authentication as <c>{email}/token:{api_token}</c>.</summary>
public sealed class ZendeskCreateTicketOptions : BuiltinToolOptions
{
    /// <summary>The account's subdomain (<c>acme</c> for <c>https://acme.zendesk.com</c>); when unset, <c>ZENDESK_SUBDOMAIN</c>.
    /// Not needed when <see cref="BuiltinToolOptions.BaseUrl"/> is set.</summary>
    public string? Subdomain { get; set; }

    /// <summary>The email address of the agent the API token belongs to; when unset, <c>ZENDESK_EMAIL</c>.</summary>
    public string? Email { get; set; }
}
