using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;

namespace Qlaud.Connectors.Vault;

/// <summary>Keeps the Data Protection key ring of connector credentials in the gateway's own database
/// (<c>data_protection_keys</c>), so every gateway instance on the database decrypts what another encrypted.</summary>
internal sealed class EfXmlRepository(IDbContextFactory<QlaudDbContext> factory) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var db = factory.CreateDbContext();
        return [.. db.DataProtectionKeys.AsNoTracking().OrderBy(static k => k.Id).Select(static k => k.Xml).AsEnumerable().Select(static xml => XElement.Parse(xml))];
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        using var db = factory.CreateDbContext();
        db.DataProtectionKeys.Add(new DataProtectionKeyEntity { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        db.SaveChanges();
    }
}
