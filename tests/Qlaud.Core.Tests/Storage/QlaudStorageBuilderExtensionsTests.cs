using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Storage;

public sealed class QlaudStorageBuilderExtensionsTests
{
    [Fact]
    public async Task UseSqlite_ExplicitConnectionString_WinsOverConfiguration()
    {
        string chosen = Path.Combine(Path.GetTempPath(), $"qlaud-usesqlite-{Guid.NewGuid():N}.db");
        string configured = Path.Combine(Path.GetTempPath(), $"qlaud-configured-{Guid.NewGuid():N}.db");
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Qlaud:UseBuiltInCatalog"] = "false",
            ["Qlaud:Storage:ConnectionString"] = $"Data Source={configured}",
        }).Build());
        services.AddQlaud().UseSqlite($"Data Source={chosen}");
        try
        {
            await using (var provider = services.BuildServiceProvider())
            {
                await provider.GetRequiredService<StorageInitializer>().EnsureInitializedAsync();
            }

            Assert.True(File.Exists(chosen));
            Assert.False(File.Exists(configured));
        }
        finally
        {
            MeteringHarness.Delete(chosen);
            MeteringHarness.Delete(configured);
        }
    }
}
