using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Images;

/// <summary>
/// Generated images kept for a limited time so the gateway can serve them at an unguessable URL (<c>GET /v1/images/{token}</c>):
/// one file per image in the <c>images</c> folder of <c>Qlaud:Storage:FilesPath</c>, named <c>{token}.{expiry}.{extension}</c>.
/// </summary>
/// <remarks>
/// <para>The token is 32 random bytes in hex: holding it is the permission to read the image, so it is never listed anywhere.
/// The expiry is part of the file name, so images outlive a restart and nodes sharing the folder serve each other's images.</para>
/// <para>An expired image is answered as missing and deleted; every save also deletes expired images and, when the folder would
/// pass <c>Qlaud:Images:MaxStoredBytes</c>, the images closest to expiring.</para>
/// </remarks>
internal sealed class ImageStore
{
    private const int TokenBytes = 32;
    private readonly TimeProvider _time;
    private readonly long _maxBytes;
    private readonly Lock _sweep = new();

    public ImageStore(IOptions<QlaudOptions> options, TimeProvider time)
    {
        Root = Path.Combine(Batches.BatchFiles.ResolveRoot(options.Value.Storage), "images");
        _time = time;
        _maxBytes = options.Value.Images.MaxStoredBytes;
        DefaultLifetime = TimeSpan.FromMinutes(options.Value.Images.UrlMinutes);
    }

    /// <summary>The folder holding the images.</summary>
    public string Root { get; }

    /// <summary><c>Qlaud:Images:UrlMinutes</c>.</summary>
    public TimeSpan DefaultLifetime { get; }

    /// <summary>Stores <paramref name="data"/> for <paramref name="lifetime"/>.</summary>
    /// <returns>The token of its URL and when it expires.</returns>
    public async Task<(string Token, DateTimeOffset ExpiresAt)> SaveAsync(ReadOnlyMemory<byte> data, string mediaType, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        Directory.CreateDirectory(Root);
        Sweep(data.Length);
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(TokenBytes));
        var expiresAt = _time.GetUtcNow() + lifetime;
        string name = $"{token}.{expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}.{Extension(mediaType)}";
        string temporary = Path.Combine(Root, token + ".tmp");
        await File.WriteAllBytesAsync(temporary, data, cancellationToken).ConfigureAwait(false);
        File.Move(temporary, Path.Combine(Root, name));
        return (token, DateTimeOffset.FromUnixTimeSeconds(expiresAt.ToUnixTimeSeconds()));
    }

    /// <summary>Opens the image of <paramref name="token"/>; null when the token is malformed, unknown or expired (an expired image is deleted).</summary>
    public (FileStream Content, string MediaType)? Open(string? token)
    {
        if (!IsToken(token) || !Directory.Exists(Root))
        {
            return null;
        }

        foreach (string path in Directory.EnumerateFiles(Root, token + ".*"))
        {
            if (Parse(path) is not { } file)
            {
                continue;
            }

            if (file.ExpiresAt <= _time.GetUtcNow().ToUnixTimeSeconds())
            {
                TryDelete(path);
                return null;
            }

            try
            {
                return (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 16 * 1024, useAsync: true), file.MediaType);
            }
            catch (FileNotFoundException)
            {
                return null; // swept in between
            }
        }

        return null;
    }

    /// <summary>Deletes expired images, then the ones closest to expiring while the folder plus <paramref name="incoming"/> bytes
    /// would pass the bound.</summary>
    private void Sweep(long incoming)
    {
        lock (_sweep)
        {
            long now = _time.GetUtcNow().ToUnixTimeSeconds();
            var live = new List<(string Path, long ExpiresAt, long Length)>();
            long total = 0;
            foreach (var info in new DirectoryInfo(Root).EnumerateFiles())
            {
                if (Parse(info.FullName) is not { } file)
                {
                    continue;
                }

                if (file.ExpiresAt <= now)
                {
                    TryDelete(info.FullName);
                    continue;
                }

                live.Add((info.FullName, file.ExpiresAt, info.Length));
                total += info.Length;
            }

            if (total + incoming <= _maxBytes)
            {
                return;
            }

            live.Sort(static (a, b) => a.ExpiresAt.CompareTo(b.ExpiresAt));
            for (int i = 0; i < live.Count && total + incoming > _maxBytes; i++)
            {
                TryDelete(live[i].Path);
                total -= live[i].Length;
            }
        }
    }

    private static bool IsToken([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? token)
    {
        if (token is not { Length: TokenBytes * 2 })
        {
            return false;
        }

        foreach (char c in token)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static (long ExpiresAt, string MediaType)? Parse(string path)
    {
        var parts = Path.GetFileName(path).Split('.');
        return parts.Length == 3 && IsToken(parts[0]) && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long expiresAt)
            ? (expiresAt, parts[2] switch { "jpeg" => "image/jpeg", "webp" => "image/webp", _ => "image/png" })
            : null;
    }

    private static string Extension(string mediaType) => mediaType switch
    {
        "image/jpeg" => "jpeg",
        "image/webp" => "webp",
        _ => "png",
    };

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Open for reading elsewhere, or already gone: the next sweep takes it.
        }
        catch (UnauthorizedAccessException)
        {
            // Not ours to delete; left in place.
        }
    }
}
