namespace Qlaud.Connectors;

/// <summary>The gateway base URL of the HTTP request being served, for connect links the tool loop mints when
/// <c>Qlaud:Connectors:PublicBaseUrl</c> is not set. The HTTP surface sets it for a thread turn.</summary>
internal static class ConnectLinkBase
{
    private static readonly AsyncLocal<Uri?> s_current = new();

    public static Uri? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }
}
