using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Qlaud.Configuration;
using Qlaud.Images;

namespace Qlaud.Core.Tests.Images;

/// <summary>The limited-time image store on a real folder: expiry on the injected clock, the size bound, and tokens that cannot
/// name anything but an image.</summary>
public sealed class ImageStoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "qlaud-image-store-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public async Task Open_BeforeAndAfterExpiry_ServesThenDeletes()
    {
        var store = Store();
        var (token, expiresAt) = await store.SaveAsync(new byte[] { 1, 2, 3 }, "image/webp", TimeSpan.FromMinutes(10), default);

        Assert.Equal(_clock.GetUtcNow().AddMinutes(10), expiresAt);
        Assert.Matches("^[0-9a-f]{64}$", token);
        var opened = store.Open(token);
        Assert.NotNull(opened);
        using (var content = opened.Value.Content)
        {
            Assert.Equal("image/webp", opened.Value.MediaType);
            Assert.Equal(3, content.Length);
        }

        _clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(store.Open(token));
        Assert.Empty(Directory.EnumerateFiles(store.Root));
    }

    [Fact]
    public async Task Save_OverTheBound_DeletesTheImagesClosestToExpiringFirst()
    {
        var store = Store(maxBytes: 1L << 20);
        var soon = await store.SaveAsync(new byte[400_000], "image/png", TimeSpan.FromMinutes(1), default);
        var late = await store.SaveAsync(new byte[400_000], "image/png", TimeSpan.FromMinutes(30), default);

        var third = await store.SaveAsync(new byte[400_000], "image/png", TimeSpan.FromMinutes(10), default);

        Assert.Null(store.Open(soon.Token));
        using (store.Open(late.Token)!.Value.Content)
        using (store.Open(third.Token)!.Value.Content)
        {
            Assert.Equal(2, Directory.EnumerateFiles(store.Root).Count());
        }
    }

    [Fact]
    public async Task Save_ExpiredImagesOfOthers_SweptAway()
    {
        var store = Store();
        var old = await store.SaveAsync(new byte[] { 1 }, "image/png", TimeSpan.FromMinutes(1), default);
        _clock.Advance(TimeSpan.FromMinutes(2));

        await store.SaveAsync(new byte[] { 2 }, "image/png", TimeSpan.FromMinutes(1), default);

        Assert.Single(Directory.EnumerateFiles(store.Root));
        Assert.DoesNotContain(Directory.EnumerateFiles(store.Root), f => Path.GetFileName(f).StartsWith(old.Token, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("../../qlaud.db")]
    [InlineData("*")]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("ABCDEF0000000000000000000000000000000000000000000000000000000000")]
    public async Task Open_UnknownOrMalformedToken_Null(string? token)
    {
        var store = Store();
        await store.SaveAsync(new byte[] { 1 }, "image/png", TimeSpan.FromMinutes(1), default);

        Assert.Null(store.Open(token));
    }

    private ImageStore Store(long maxBytes = 1L << 30) => new(Options.Create(new QlaudOptions
    {
        Storage = { FilesPath = _folder },
        Images = { MaxStoredBytes = maxBytes },
    }), _clock);
}
