namespace Qlaud.Connectors.Builtins.Slack;

/// <summary>Settings of <c>slack_post_message</c>, in <c>Qlaud:Builtins:slack_post_message</c>. The key is a Slack bot token
/// (<c>xoxb-…</c>) with the <c>chat:write</c> scope; when <see cref="BuiltinToolOptions.ApiKey"/> is unset, <c>SLACK_BOT_TOKEN</c>.</summary>
public sealed class SlackPostMessageOptions : BuiltinToolOptions
{
    /// <summary>The channel (an ID such as <c>C0123456789</c>, or a name) used when the model names none; when unset the model
    /// must name one.</summary>
    public string? DefaultChannel { get; set; }
}
