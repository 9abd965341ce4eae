using Microsoft.Extensions.DependencyInjection;
using Qlaud.Metering;
using Qlaud.Security;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary>Drives the gateway's own spend guard, standing in for requests until the request path is metered.</summary>
internal static class Metered
{
    public static async Task<QlaudCaller> CallerAsync(this GatewayHost gateway, string secret)
        => (await gateway.Services.GetRequiredService<KeyAuthenticator>().AuthenticateAsync(secret, default)).Caller!;

    /// <summary>Reserves and settles one request for <paramref name="caller"/> with the given upstream cost.</summary>
    public static async Task SettleAsync(this GatewayHost gateway, QlaudCaller caller, long upstreamMicros, string model = "fake-gpt",
        long input = 10, long output = 5, long cacheRead = 0, string? endUser = null)
    {
        var guard = gateway.Services.GetRequiredService<ISpendGuard>();
        var decision = await guard.ReserveAsync(caller, new SpendEstimate(input, output, upstreamMicros * 2), default);
        guard.Settle(decision.ReservationOrThrow(), new SettledUsage(model, "fake/upstream-gpt", new TokenUsage(input, output, cacheRead), upstreamMicros, "req-" + Guid.NewGuid().ToString("N"), endUser));
    }
}
