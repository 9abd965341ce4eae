using Microsoft.Extensions.DependencyInjection;

namespace Qlaud.Hosting;

/// <summary>Returned by <c>AddQlaud()</c>; features chain on it.</summary>
public interface IQlaudBuilder
{
    /// <summary>The service collection Qlaud was added to.</summary>
    IServiceCollection Services { get; }
}
