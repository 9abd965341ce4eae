using System.Collections.Frozen;

namespace Qlaud.Catalog;

/// <summary>The prices of an image generation route in integer micro-USD per generated image: one per quality and size where the
/// provider prices them so (OpenAI's <c>gpt-image-1</c>), and a flat price for everything else.</summary>
public sealed class ImagePrice
{
    private readonly FrozenDictionary<string, long> _byQualityAndSize;

    /// <summary>Creates the prices.</summary>
    /// <param name="perImageMicros">The price of a quality and size the table does not list; null when only listed ones are priced.</param>
    /// <param name="byQualityAndSize">Prices keyed <c>quality/size</c> in lower case, for example <c>high/1024x1024</c>.</param>
    public ImagePrice(long? perImageMicros, IReadOnlyDictionary<string, long> byQualityAndSize)
    {
        ArgumentNullException.ThrowIfNull(byQualityAndSize);
        PerImageMicros = perImageMicros;
        _byQualityAndSize = byQualityAndSize.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        long dearest = perImageMicros ?? 0;
        foreach (var price in _byQualityAndSize.Values)
        {
            dearest = Math.Max(dearest, price);
        }

        DearestMicros = dearest;
    }

    /// <summary>The flat price per image for any quality and size the table does not list.</summary>
    public long? PerImageMicros { get; }

    /// <summary>The listed prices, keyed <c>quality/size</c>.</summary>
    public IReadOnlyDictionary<string, long> ByQualityAndSize => _byQualityAndSize;

    /// <summary>The dearest price of one image on this route: what a request whose quality or size is not known yet may cost.</summary>
    public long DearestMicros { get; }

    /// <summary>The price of one image of <paramref name="quality"/> and <paramref name="size"/>: the listed price, else
    /// <see cref="PerImageMicros"/>, else (an <c>auto</c> or unlisted quality or size) <see cref="DearestMicros"/>, which never
    /// under-charges.</summary>
    public long Cost(string? quality, string? size)
    {
        if (quality is { Length: > 0 } && size is { Length: > 0 } && _byQualityAndSize.TryGetValue(quality + "/" + size, out long listed))
        {
            return listed;
        }

        return PerImageMicros ?? DearestMicros;
    }
}
