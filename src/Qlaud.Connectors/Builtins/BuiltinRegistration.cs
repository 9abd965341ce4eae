using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;

namespace Qlaud.Connectors.Builtins;

/// <summary>Registers builtin tools, their options (<c>Qlaud:Builtins:{name}</c>) and their vendor HTTP clients.</summary>
internal static class BuiltinRegistration
{
    /// <summary>The configuration section of all builtins, <c>Qlaud:Builtins</c>.</summary>
    public const string SectionName = "Qlaud:Builtins";

    /// <summary>The name of the <see cref="HttpClient"/> of the builtin <paramref name="tool"/> (from <see cref="IHttpClientFactory"/>).</summary>
    public static string HttpClientName(string tool) => "qlaud.builtin." + tool;

    /// <summary>Registers <typeparamref name="TTool"/> as a builtin with its options bound to <c>Qlaud:Builtins:{name}</c> and a
    /// named <see cref="HttpClient"/> (<see cref="HttpClientName"/>) behind the standard resilience handler, which retries
    /// transient failures and 429s (honouring <c>Retry-After</c>) twice. Idempotent.</summary>
    public static void AddBuiltin<TTool, TOptions>(IServiceCollection services, string name, Action<HttpStandardResilienceOptions>? resilience = null)
        where TTool : BuiltinTool
        where TOptions : BuiltinToolOptions
    {
        if (services.Any(d => d.ServiceType == typeof(BuiltinTool) && d.ImplementationType == typeof(TTool)))
        {
            return;
        }

        services.AddOptions<TOptions>().BindConfiguration(SectionName + ":" + name);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<BuiltinTool, TTool>());
        services.AddHttpClient(HttpClientName(name), static client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers() // vendor keys travel in headers; Qlaud logs what it needs itself
            .AddStandardResilienceHandler(options =>
            {
                options.Retry.MaxRetryAttempts = 2;
                options.Retry.Delay = TimeSpan.FromMilliseconds(200);
                options.Retry.MaxDelay = TimeSpan.FromSeconds(5); // a vendor asking for a longer wait gets its 429 reported, not a timeout
                options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(30);
                options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(90);
                resilience?.Invoke(options);

                // The handler's validation requires the breaker's sampling window to be at least twice the attempt timeout.
                var window = options.AttemptTimeout.Timeout * 2;
                if (options.CircuitBreaker.SamplingDuration < window)
                {
                    options.CircuitBreaker.SamplingDuration = window;
                }
            });
    }

    /// <summary>The price in micro-USD for <paramref name="options"/>' <see cref="BuiltinToolOptions.PriceUsd"/>, else <paramref name="defaultMicros"/>.</summary>
    public static long Price(BuiltinToolOptions options, long defaultMicros)
        => options.PriceUsd is { } usd ? (long)Math.Ceiling(usd * 1_000_000m) : defaultMicros;
}
