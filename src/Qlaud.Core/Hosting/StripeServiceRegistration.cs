using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Hosting;

/// <summary>Registers Stripe top-ups (called by <c>AddQlaud()</c>).</summary>
internal static class StripeServiceRegistration
{
    public static void AddStripeTopUps(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QlaudOptions>, StripeOptionsValidator>());
    }
}
