using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Dialects;
using Qlaud.Storage;

namespace Qlaud.Security;

/// <summary>
/// The gateway's <see cref="ThinkingSigner"/>: keyed by <c>Qlaud:Routing:ThinkingSignatureSecret</c> when configured, else by
/// a random 32-byte secret generated on first use and kept in the gateway's database (so signatures survive restarts and every
/// instance on one database accepts the others' blocks).
/// </summary>
internal sealed class ThinkingSignatures(IOptions<QlaudOptions> options, IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage, TimeProvider time)
{
    private readonly Lock _gate = new();
    private Task<ThinkingSigner>? _signer;

    /// <summary>The signer; loads (or creates) the secret on the first call.</summary>
    public ValueTask<ThinkingSigner> GetSignerAsync(CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _signer);
        if (task is null || task.IsFaulted || task.IsCanceled)
        {
            lock (_gate)
            {
                if (_signer is null || _signer.IsFaulted || _signer.IsCanceled)
                {
                    _signer = LoadAsync();
                }

                task = _signer;
            }
        }

        return task.IsCompletedSuccessfully ? new ValueTask<ThinkingSigner>(task.Result) : new ValueTask<ThinkingSigner>(task.WaitAsync(cancellationToken));
    }

    private async Task<ThinkingSigner> LoadAsync()
    {
        if (options.Value.Routing.ThinkingSignatureSecret is { Length: > 0 } configured)
        {
            return new ThinkingSigner(Encoding.UTF8.GetBytes(configured));
        }

        await storage.EnsureInitializedAsync().ConfigureAwait(false);
        var db = await factory.CreateDbContextAsync().ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            if (await ReadAsync(db).ConfigureAwait(false) is { } stored)
            {
                return new ThinkingSigner(Convert.FromBase64String(stored));
            }

            byte[] key = RandomNumberGenerator.GetBytes(32);
            db.GatewaySecrets.Add(new GatewaySecretEntity
            {
                Name = GatewaySecretEntity.ThinkingSignatureName,
                Value = Convert.ToBase64String(key),
                CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            });
            try
            {
                await db.SaveChangesAsync().ConfigureAwait(false);
                return new ThinkingSigner(key);
            }
            catch (DbUpdateException)
            {
                // Another instance on the same database stored its secret first: use that one.
                db.ChangeTracker.Clear();
                return await ReadAsync(db).ConfigureAwait(false) is { } winner ? new ThinkingSigner(Convert.FromBase64String(winner)) : throw new InvalidOperationException("The thinking signature secret could not be stored.");
            }
        }
    }

    private static Task<string?> ReadAsync(QlaudDbContext db) => db.GatewaySecrets.AsNoTracking()
        .Where(static s => s.Name == GatewaySecretEntity.ThinkingSignatureName)
        .Select(static s => s.Value)
        .FirstOrDefaultAsync();
}
