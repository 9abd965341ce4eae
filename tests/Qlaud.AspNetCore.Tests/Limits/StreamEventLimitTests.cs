using System.Net;
using System.Text;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Limits;

/// <summary><c>Qlaud:Limits:MaxEventBytes</c>: an upstream event past the limit ends the client's stream with an error event in
/// its dialect, and the request is settled (charged for what was relayed), leaving nothing reserved.</summary>
public sealed class StreamEventLimitTests : IAsyncLifetime
{
    private const int Limit = 64 * 1024;

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Limits:MaxEventBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public static TheoryData<string, string, string> Cases => new()
    {
        { "/v1/chat/completions", "fake-gpt", "openai" }, // passthrough
        { "/v1/chat/completions", "fake-claude", "openai" }, // Anthropic upstream translated to OpenAI
        { "/v1/messages", "fake-claude", "anthropic" }, // passthrough
        { "/v1/messages", "fake-gpt", "anthropic" }, // OpenAI upstream translated to Anthropic
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Stream_UpstreamEventOverLimit_EndsWithErrorEventInTheClientsDialectAndSettles(string path, string model, string dialect)
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"eve","max_spend_usd":1}""");
        // The first event is small; the whole text then arrives as one event of ~200 KB.
        _gateway.Fake.Enqueue(FakeReply.Text("hi " + new string('x', 200_000)) with { ChunkSize = 1_000_000 });
        using var http = _gateway.Http(secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent($$"""{"model":"{{model}}","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"talk"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(text.Length < Limit, $"the oversized event reached the client ({text.Length} bytes)");
        string lastEvent = text.TrimEnd().Split("\n\n")[^1];
        if (dialect == "openai")
        {
            Assert.StartsWith("data: {\"error\":", lastEvent, StringComparison.Ordinal);
        }
        else
        {
            Assert.StartsWith("event: error", lastEvent, StringComparison.Ordinal);
        }

        Assert.Contains("Qlaud:Limits:MaxEventBytes", lastEvent, StringComparison.Ordinal);
        using var admin = _gateway.Http();
        var entry = await _gateway.SingleUsageEntryAsync(id);
        // Charged for what was relayed: the usage the upstream reported before the event (Anthropic's message_start), else the estimate.
        Assert.True(entry.GetProperty("cost_micros").GetInt64() > 0);
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());
        Assert.Equal(-entry.GetProperty("cost_micros").GetInt64(), wallet.GetProperty("balance_micros").GetInt64());
    }
}
