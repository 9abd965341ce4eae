using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qlaud.Storage;

namespace Qlaud.Connectors.Vault;

/// <summary>Encrypts connector credentials with ASP.NET Core Data Protection, one purpose per account, with a key ring of its own
/// kept in the gateway's database.</summary>
/// <remarks>The key ring is Qlaud's own (application name <c>Qlaud.Connectors</c>), separate from whatever Data Protection the app
/// configured for its cookies, so neither changes the other. The keys sit in the same database as the ciphertext; protecting
/// the key ring itself (an <c>IXmlEncryptor</c>) is the operator's choice through
/// <see cref="QlaudConnectorsBuilderExtensions.ConfigureCredentialKeyRing"/>.</remarks>
internal sealed class CredentialVault : IDisposable
{
    private const string Purpose = "Qlaud.Connectors.Credentials.v1";

    private readonly ServiceProvider _services;
    private readonly IDataProtectionProvider _provider;

    public CredentialVault(IDbContextFactory<QlaudDbContext> factory, ILoggerFactory loggerFactory, IEnumerable<CredentialKeyRingConfiguration> configure)
    {
        var services = new ServiceCollection();
        services.AddSingleton(loggerFactory);
        services.AddLogging();
        var builder = services.AddDataProtection().SetApplicationName("Qlaud.Connectors");
        services.Configure<KeyManagementOptions>(options => options.XmlRepository = new EfXmlRepository(factory));
        foreach (var step in configure)
        {
            step.Configure(builder);
        }

        _services = services.BuildServiceProvider();
        _provider = _services.GetRequiredService<IDataProtectionProvider>();
    }

    public string Protect(string accountId, ConnectorCredential credential)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(credential, VaultJsonContext.Default.ConnectorCredential);
        try
        {
            return Convert.ToBase64String(Protector(accountId).Protect(json));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(json);
        }
    }

    /// <summary>The credential, or null when it cannot be decrypted (another account's, a lost key ring, tampered).</summary>
    public ConnectorCredential? Unprotect(string accountId, string? cipher)
    {
        if (cipher is null)
        {
            return null;
        }

        try
        {
            var json = Protector(accountId).Unprotect(Convert.FromBase64String(cipher));
            try
            {
                return JsonSerializer.Deserialize(json, VaultJsonContext.Default.ConnectorCredential);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(json);
            }
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Protects transient flow state (OAuth PKCE verifier, registered client) the same way.</summary>
    public string ProtectText(string accountId, string text)
        => Convert.ToBase64String(Protector(accountId).Protect(System.Text.Encoding.UTF8.GetBytes(text)));

    public string? UnprotectText(string accountId, string? cipher)
    {
        if (cipher is null)
        {
            return null;
        }

        try
        {
            return System.Text.Encoding.UTF8.GetString(Protector(accountId).Unprotect(Convert.FromBase64String(cipher)));
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return null;
        }
    }

    private IDataProtector Protector(string accountId) => _provider.CreateProtector(Purpose, accountId);

    public void Dispose() => _services.Dispose();
}

/// <summary>A step that configures the key ring of connector credentials (an XML encryptor, key lifetime).</summary>
internal sealed record CredentialKeyRingConfiguration(Action<IDataProtectionBuilder> Configure);
