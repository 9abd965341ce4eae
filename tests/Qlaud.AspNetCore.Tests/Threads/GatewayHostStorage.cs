using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>The gateway's SQLite connection string, for asserting on persisted rows.</summary>
internal static class GatewayHostStorage
{
    public static string GetConnectionString(this IServiceProvider services)
        => services.GetRequiredService<IOptions<QlaudOptions>>().Value.Storage.ConnectionString;
}
