namespace Qlaud.AspNetCore;

/// <summary>Names of Qlaud's authentication scheme.</summary>
public static class QlaudAuthenticationDefaults
{
    /// <summary>The scheme that authenticates Qlaud keys (<c>Authorization: Bearer</c> or <c>x-api-key</c>), <c>QlaudKey</c>.
    /// <c>AddQlaud()</c> registers it without making it the app's default scheme.</summary>
    public const string AuthenticationScheme = "QlaudKey";
}
