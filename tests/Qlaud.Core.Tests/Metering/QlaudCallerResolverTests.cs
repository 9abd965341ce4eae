using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Metering;

public sealed class QlaudCallerResolverTests : IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await MeteringHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private QlaudCallerResolver Resolver => _h.Services.GetRequiredService<QlaudCallerResolver>();

    [Fact]
    public async Task ResolveAsync_NothingNamed_IsTheDefaultAccountInProcess()
        => Assert.Equal(QlaudCaller.InProcess, await Resolver.ResolveOrThrowAsync(new ChatOptions(), default));

    [Fact]
    public async Task ResolveAsync_ApiKeyInOptions_IsThatKeysCaller()
    {
        var (key, secret, _) = await _h.MintAsync(endUser: "alice");

        var caller = await Resolver.ResolveOrThrowAsync(new ChatOptions { AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } }, default);

        Assert.Equal((key.Record.Id, "alice", false), (caller.KeyId, caller.EndUserId, caller.IsMaster));
    }

    [Fact]
    public async Task ResolveAsync_EndUserInOptions_IsTheDefaultAccountForThatEndUser()
    {
        var caller = await Resolver.ResolveOrThrowAsync(new ChatOptions { AdditionalProperties = new() { [QlaudChatOptionKeys.EndUser] = "bob" } }, default);

        Assert.Equal(QlaudCaller.InProcess with { EndUserId = "bob" }, caller);
    }

    [Fact]
    public async Task ResolveAsync_AmbientScope_AppliesUntilDisposedAndOptionsWin()
    {
        var (key, secret, _) = await _h.MintAsync();
        QlaudCaller inScope, overridden;
        using (QlaudCallScope.ForApiKey(secret))
        {
            inScope = await Resolver.ResolveOrThrowAsync(null, default);
            overridden = await Resolver.ResolveOrThrowAsync(new ChatOptions { AdditionalProperties = new() { [QlaudChatOptionKeys.EndUser] = "x" } }, default);
        }

        var after = await Resolver.ResolveOrThrowAsync(null, default);

        Assert.Equal(key.Record.Id, inScope.KeyId);
        Assert.Equal("x", overridden.EndUserId);
        Assert.Equal(QlaudCaller.InProcess, after);
    }

    [Fact]
    public async Task ResolveOrThrowAsync_RevokedKey_ThrowsAuthenticationError()
    {
        var (key, secret, _) = await _h.MintAsync();
        await _h.Keys.RevokeAsync(AccountEntity.DefaultId, key.Record.Id, default);

        var ex = await Assert.ThrowsAsync<QlaudException>(async () =>
            await Resolver.ResolveOrThrowAsync(new ChatOptions { AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } }, default));

        Assert.Equal(401, ex.Error.StatusCode);
    }

    [Fact]
    public async Task ReservationOrThrow_OverCap_ThrowsPaymentRequired()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 10);

        var ex = Assert.Throws<QlaudException>(() => _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(11), default).AsTask().Result.ReservationOrThrow());

        Assert.Equal(QlaudErrorKind.PaymentRequired, ex.Error.Kind);
        Assert.Equal(402, ex.Error.StatusCode);
    }
}
