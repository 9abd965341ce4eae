namespace Qlaud.Hosting;

/// <summary>Key helpers for hosts, for example to generate a master key on first run.</summary>
public static class QlaudKeys
{
    /// <summary>Generates a new key secret: <c>qlk_live_</c> followed by 43 random base62 characters (256 bits).</summary>
    public static string Generate() => Security.KeyAuthenticator.Generate();
}
