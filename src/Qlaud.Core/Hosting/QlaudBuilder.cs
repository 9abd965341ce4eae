using Microsoft.Extensions.DependencyInjection;

namespace Qlaud.Hosting;

internal sealed class QlaudBuilder(IServiceCollection services) : IQlaudBuilder
{
    public IServiceCollection Services { get; } = services;
}
