namespace Qlaud;

/// <summary>Keys of <c>ChatOptions.AdditionalProperties</c> that tell the in-process <c>IChatClient</c> who a call is metered to.</summary>
/// <remarks>
/// <c>["qlaud.api_key"] = "qlk_live_…"</c> meters the call exactly as the HTTP surface would meter that key (its cap, rate
/// limits, end user and account). <c>["qlaud.end_user"] = "user-42"</c> without a key meters the call to the default
/// account's wallet and attributes it to that end user in the ledger and usage rollups. Without either, a
/// <see cref="QlaudCallScope"/> around the call applies; otherwise the call is the default account's, with no end user.
/// </remarks>
public static class QlaudChatOptionKeys
{
    /// <summary>A Qlaud API key (string) to meter the call to.</summary>
    public const string ApiKey = "qlaud.api_key";

    /// <summary>The app's end user (string) to attribute the call to. Same key the wire dialects use for OpenAI <c>user</c>.</summary>
    public const string EndUser = Dialects.CanonicalKeys.EndUser;
}
