namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Images</c> section: how long the gateway serves the images it generated at their URLs.</summary>
public sealed class ImagesOptions
{
    /// <summary>Minutes an image generated with <c>response_format: "url"</c> stays at its gateway URL
    /// (<c>GET /v1/images/{token}</c>) before it is deleted (default 60, 1 to 10080).</summary>
    public int UrlMinutes { get; set; } = 60;

    /// <summary>The most bytes of images kept for their URLs at once (default 1 GiB, at least 1 MiB); when a new image would pass it,
    /// the images closest to expiring are deleted first.</summary>
    public long MaxStoredBytes { get; set; } = 1L << 30;
}
