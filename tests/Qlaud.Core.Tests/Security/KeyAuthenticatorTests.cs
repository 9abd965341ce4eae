using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Security;

public class KeyAuthenticatorTests : StorageTestBase, IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task AuthenticateAsync_BootstrapMasterKey_ReturnsMasterOfDefaultAccount()
    {
        var result = await _h.Authenticator.AuthenticateAsync(MeteringHarness.MasterKey, default);

        Assert.Equal(AccountEntity.DefaultId, result.Caller!.AccountId);
        Assert.True(result.Caller.IsMaster);
        Assert.Equal("master", result.Caller.KeyId);
    }

    [Fact]
    public async Task AuthenticateAsync_MintedKey_ReturnsItsAccountKeyAndEndUser()
    {
        var (key, secret) = await _h.Keys.CreateAsync(AccountEntity.DefaultId, new NewKey("app", KeyScope.Standard, "user-7", 5_000_000, default, null, null, null), default);

        var result = await _h.Authenticator.AuthenticateAsync(secret, default);

        Assert.Equal(new QlaudCaller(AccountEntity.DefaultId, key.Record.Id, "user-7", IsMaster: false), result.Caller);
        Assert.StartsWith("qlk_live_", secret, StringComparison.Ordinal);
        Assert.Equal(52, secret.Length);
    }

    [Fact]
    public async Task AuthenticateAsync_AdminScopeKey_IsAdminNotMaster()
    {
        var (_, secret) = await _h.Keys.CreateAsync(AccountEntity.DefaultId, new NewKey("ops", KeyScope.Admin, null, null, default, null, null, null), default);

        var result = await _h.Authenticator.AuthenticateAsync(secret, default);

        Assert.False(result.Caller!.IsMaster);
        Assert.Equal(KeyScope.Admin, result.Scope);
    }

    [Fact]
    public async Task AuthenticateAsync_BootstrapKey_IsOperator()
        => Assert.Equal(KeyScope.Operator, (await _h.Authenticator.AuthenticateAsync(MeteringHarness.MasterKey, default)).Scope);

    [Fact]
    public async Task AuthenticateAsync_UnknownKeyAskedAgain_AnswersFromMemoryUntilTheKeyIsMinted()
    {
        string secret = KeyAuthenticator.Generate();
        Assert.Equal("invalid_api_key", (await _h.Authenticator.AuthenticateAsync(secret, default)).Error!.Code);

        // Remembered as unknown: decided without storage.
        var remembered = await _h.Authenticator.AuthenticateAsync(secret, allowStorageLookup: false, default);
        Assert.Equal("invalid_api_key", remembered.Error!.Code);

        // A key minted on this node with that secret leaves the set at once.
        _h.Services.GetRequiredService<KeyRegistry>().Upsert(new ApiKeyEntity
        {
            Id = "key_minted", AccountId = AccountEntity.DefaultId, Scope = "standard", KeyHash = KeyAuthenticator.HashHex(secret),
            Prefix = secret[..15], LimitReset = "none",
        });
        Assert.Equal("key_minted", (await _h.Authenticator.AuthenticateAsync(secret, allowStorageLookup: false, default)).Caller!.KeyId);
    }

    [Fact]
    public async Task AuthenticateAsync_UnknownKeyAfterTheMemoryExpires_LooksItUpAgain()
    {
        string secret = KeyAuthenticator.Generate();
        await _h.Authenticator.AuthenticateAsync(secret, default);

        _h.Time.Advance(TimeSpan.FromSeconds(KeyRegistry.UnknownKeySeconds + 1));

        Assert.True((await _h.Authenticator.AuthenticateAsync(secret, allowStorageLookup: false, default)).IsUndecided);
    }

    [Fact]
    public async Task AuthenticateAsync_AfterRevoke_FailsAtOnce()
    {
        var (key, secret, _) = await _h.MintAsync();

        await _h.Keys.RevokeAsync(AccountEntity.DefaultId, key.Record.Id, default);
        var result = await _h.Authenticator.AuthenticateAsync(secret, default);

        Assert.Null(result.Caller);
        Assert.Equal(QlaudErrorKind.Authentication, result.Error!.Kind);
        Assert.Equal("invalid_api_key", result.Error.Code);
    }

    [Fact]
    public async Task AuthenticateAsync_DisabledThenEnabled_FailsThenPasses()
    {
        var (key, secret, _) = await _h.MintAsync();

        await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { Disabled = true }, default);
        var disabled = await _h.Authenticator.AuthenticateAsync(secret, default);
        await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { Disabled = false }, default);
        var enabled = await _h.Authenticator.AuthenticateAsync(secret, default);

        Assert.Equal("key_disabled", disabled.Error!.Code);
        Assert.NotNull(enabled.Caller);
    }

    [Fact]
    public async Task AuthenticateAsync_PastExpiry_Fails()
    {
        long expires = _h.Time.GetUtcNow().AddHours(1).ToUnixTimeMilliseconds();
        var (_, secret) = await _h.Keys.CreateAsync(AccountEntity.DefaultId, new NewKey(null, KeyScope.Standard, null, null, default, expires, null, null), default);

        var before = await _h.Authenticator.AuthenticateAsync(secret, default);
        _h.Time.Advance(TimeSpan.FromHours(2));
        var after = await _h.Authenticator.AuthenticateAsync(secret, default);

        Assert.NotNull(before.Caller);
        Assert.Equal("key_expired", after.Error!.Code);
    }

    [Theory]
    [InlineData("qlk_live_NotAKeyThatWasEverMinted000000000000000000")]
    [InlineData("sk-something-else")]
    [InlineData("")]
    public async Task AuthenticateAsync_UnknownKey_FailsWithInvalidKey(string key)
    {
        var result = await _h.Authenticator.AuthenticateAsync(key, default);

        Assert.Null(result.Caller);
        Assert.Equal("invalid_api_key", result.Error!.Code);
    }

    [Fact]
    public async Task AuthenticateAsync_KeyMintedByAnotherInstanceOnTheSameDatabase_IsFoundInTheDatabase()
    {
        await using var other = await StartHarnessAsync(databasePath: _h.DatabasePath);
        other.KeepDatabase = true;
        var (key, secret) = await other.Keys.CreateAsync(AccountEntity.DefaultId, new NewKey(null, KeyScope.Standard, "u", null, default, null, null, null), default);

        var result = await _h.Authenticator.AuthenticateAsync(secret, default);

        Assert.Equal(key.Record.Id, result.Caller!.KeyId);
    }

    [Fact]
    public async Task AuthenticateAsync_KeyRevokedByAnotherInstance_StopsWorkingAfterTheCacheTime()
    {
        var (key, secret, _) = await _h.MintAsync();
        await using var other = await StartHarnessAsync(databasePath: _h.DatabasePath);
        other.KeepDatabase = true;
        await other.Keys.RevokeAsync(AccountEntity.DefaultId, key.Record.Id, default);

        var cached = await _h.Authenticator.AuthenticateAsync(secret, default);
        _h.Time.Advance(TimeSpan.FromSeconds(61));
        await _h.Authenticator.AuthenticateAsync(secret, default); // served from memory; starts the background re-read
        var deadline = DateTime.UtcNow.AddSeconds(10);
        KeyAuthentication refreshed;
        do
        {
            await Task.Delay(20);
            refreshed = await _h.Authenticator.AuthenticateAsync(secret, default);
        }
        while (refreshed.Caller is not null && DateTime.UtcNow < deadline);

        Assert.NotNull(cached.Caller);
        Assert.Null(refreshed.Caller);
        Assert.Equal(QlaudErrorKind.Authentication, refreshed.Error!.Kind);
    }

    [Fact]
    public async Task AuthenticateAsync_ManyKeysChangedInTheDatabase_OneStaleLookupReReadsThemAllWithinTheCacheTime()
    {
        var secrets = new List<string>();
        var ids = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            var (key, secret, _) = await _h.MintAsync(endUser: $"user-{i}");
            ids.Add(key.Record.Id);
            secrets.Add(secret);
        }

        foreach (string secret in secrets)
        {
            Assert.NotNull((await _h.Authenticator.AuthenticateAsync(secret, default)).Caller);
        }

        await using (var db = _h.Db())
        {
            await db.ApiKeys.Where(k => ids.Contains(k.Id)).ExecuteUpdateAsync(s => s.SetProperty(k => k.Disabled, true).SetProperty(k => k.RpmLimit, 7));
        }

        var registry = _h.Services.GetRequiredService<KeyRegistry>();
        Assert.All(ids, id => Assert.False(registry.TryGetCached(id)!.Record.Disabled)); // still the cached settings
        _h.Time.Advance(TimeSpan.FromSeconds(61));
        await _h.Authenticator.AuthenticateAsync(secrets[0], default); // served from memory; starts the background round
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (ids.Exists(id => !registry.TryGetCached(id)!.Record.Disabled) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        // The other 39 keys were not looked up: the round that the first one started re-read them too.
        Assert.All(ids, id => Assert.True(registry.TryGetCached(id)!.Record.Disabled));
        Assert.All(ids, id => Assert.Equal(7, registry.TryGetCached(id)!.Record.RpmLimit));
        foreach (string secret in secrets)
        {
            var result = await _h.Authenticator.AuthenticateAsync(secret, default);
            Assert.Null(result.Caller);
            Assert.Equal(QlaudErrorKind.Authentication, result.Error!.Kind);
        }
    }

    [Fact]
    public async Task KeyState_TryReplace_KeepsAChangeMadeOnThisNodeAfterTheSettingsWereRead()
    {
        var (key, _, _) = await _h.MintAsync();
        var state = _h.Services.GetRequiredService<KeyRegistry>().TryGetCached(key.Record.Id)!;
        var read = state.Record; // what a refresh round saw before its query

        state.Update(read with { RpmLimit = 5 }); // a patch on this node while the round reads
        Assert.False(state.TryReplace(read, read with { RpmLimit = 9 }));
        Assert.Equal(5, state.Record.RpmLimit);

        Assert.True(state.TryReplace(state.Record, state.Record with { RpmLimit = 9 }));
        Assert.Equal(9, state.Record.RpmLimit);
    }

    [Fact]
    public async Task PatchAsync_WhileABackgroundRefreshReads_ThePatchIsNotOverwrittenByTheOlderRow()
    {
        // Bounded: 25 rounds, each a stale lookup (starting a background re-read) followed at once by a patch on this node.
        var (key, secret, _) = await _h.MintAsync();
        var registry = _h.Services.GetRequiredService<KeyRegistry>();
        for (int round = 1; round <= 25; round++)
        {
            _h.Time.Advance(TimeSpan.FromSeconds(61));
            await _h.Authenticator.AuthenticateAsync(secret, default); // starts the re-read of the row as it is now
            var patched = await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { RpmLimit = new Settable<int?>(true, 100 + round) }, default);
            Assert.Equal(100 + round, patched!.Record.RpmLimit);

            // Let the round finish (two queries on a local SQLite file); then the newest settings must be in force.
            await Task.Delay(30);
            Assert.Equal(100 + round, registry.TryGetCached(key.Record.Id)!.Record.RpmLimit);
        }
    }

    [Fact]
    public async Task CreateAsync_StoresOnlyTheHashAndAPrefix()
    {
        var (key, secret, _) = await _h.MintAsync();

        await using var db = _h.Db();
        var row = db.ApiKeys.Single(k => k.Id == key.Record.Id);
        Assert.Equal(KeyAuthenticator.HashHex(secret), row.KeyHash);
        Assert.Equal(secret[..15], row.Prefix);
        Assert.DoesNotContain(secret, row.KeyHash, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[15..], row.Prefix + row.Name + row.KeyHash, StringComparison.Ordinal);
    }
}
