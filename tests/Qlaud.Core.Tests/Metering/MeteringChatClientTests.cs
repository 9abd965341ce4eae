using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Metering;

public sealed class MeteringChatClientTests : IAsyncLifetime
{
    private MeteringHarness _h = null!;
    private FakeChatClient _inner = null!;
    private MeteringChatClient _client = null!;

    public async Task InitializeAsync()
    {
        _h = await MeteringHarness.StartAsync();
        _inner = new FakeChatClient();
        _client = new MeteringChatClient(_inner, _h.Guard, _h.Services.GetRequiredService<QlaudCallerResolver>(), _h.Services.GetRequiredService<Router>());
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static ChatOptions Options(string secret, int maxTokens = 100) => new()
    {
        ModelId = "test-model",
        MaxOutputTokens = maxTokens,
        AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret },
    };

    private static ChatResponse Answer(long input, long output) => new(new ChatMessage(ChatRole.Assistant, "answer"))
    {
        ResponseId = "resp-1",
        Usage = new TokenUsage(input, output).ToUsageDetails(),
        AdditionalProperties = new() { [QlaudResponseProperties.Route] = "test/test-model" },
    };

    [Fact]
    public async Task GetResponseAsync_WithinCap_ChargesTheReportedUsageAtTheRoutesPrice()
    {
        var (key, secret, _) = await _h.MintAsync(capMicros: 1_000_000, endUser: "alice");
        _inner.Respond = static (_, _) => Answer(1_000, 500);

        var response = await _client.GetResponseAsync("hello", Options(secret));

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.Equal((2_000L, "alice", "test/test-model", false), (entry.CostMicros, entry.EndUserId, entry.Route, entry.Estimated));
        Assert.Matches("^req_[0-9a-f]{32}$", entry.RequestId);
        Assert.Equal(entry.RequestId, response.AdditionalProperties![QlaudResponseProperties.RequestId]);
        Assert.Equal(2_000, (await _h.Keys.GetAsync("default", key.Record.Id, default))!.PeriodSpendMicros);
    }

    [Fact]
    public async Task GetResponseAsync_HandsItsRoutingToTheInnerClient_ForTheSameRequestOnly()
    {
        var (_, secret, _) = await _h.MintAsync(capMicros: 1_000_000, endUser: "alice");
        List<ChatMessage> messages = [new(ChatRole.User, "hello")];
        var options = Options(secret);
        RoutedChat? routed = null;
        bool matchedAsSent = false, matchedOtherOptions = true, matchedOtherModel = true, matchedAsStream = true;
        _inner.Respond = (m, o) =>
        {
            routed = MeteredCall.Current?.Routed;
            matchedAsSent = routed?.Matches(m, o, stream: false) == true;
            matchedAsStream = routed?.Matches(m, o, stream: true) == true;
            matchedOtherOptions = routed?.Matches(m, o!.Clone(), stream: false) == true;
            o!.ModelId = "another-model"; // a decorator in between that changes the model on the same instance
            matchedOtherModel = routed?.Matches(m, o, stream: false) == true;
            return Answer(10, 5);
        };

        await _client.GetResponseAsync(messages, options);

        Assert.NotNull(routed);
        Assert.Equal("test/test-model", Assert.Single(routed!.Candidates).Name);
        Assert.Equal((true, false, false, false), (matchedAsSent, matchedAsStream, matchedOtherOptions, matchedOtherModel));
    }

    [Fact]
    public async Task GetResponseAsync_OverCap_ThrowsPaymentRequiredWithoutCallingTheInnerClient()
    {
        var (_, secret, _) = await _h.MintAsync(capMicros: 10);

        var ex = await Assert.ThrowsAsync<QlaudException>(() => _client.GetResponseAsync("hello", Options(secret)));

        Assert.Equal(QlaudErrorKind.PaymentRequired, ex.Error.Kind);
        Assert.Equal(0, _inner.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_InnerFails_ReleasesTheReservation()
    {
        var (key, secret, _) = await _h.MintAsync(capMicros: 1_000);
        _inner.Respond = static (_, _) => throw new QlaudException(new QlaudError(QlaudErrorKind.UpstreamError, "down"));

        await Assert.ThrowsAsync<QlaudException>(() => _client.GetResponseAsync("hello", Options(secret, maxTokens: 100)));

        Assert.True((await _h.Guard.ReserveAsync((await _h.Authenticator.AuthenticateAsync(secret, default)).Caller!, MeteringHarness.Estimate(1_000), default)).IsAdmitted);
        Assert.Equal(0, (await _h.Keys.GetAsync("default", key.Record.Id, default))!.PeriodSpendMicros);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Completes_ChargesTheSummedUsage()
    {
        var (_, secret, _) = await _h.MintAsync();
        _inner.Stream = static (_, _) =>
        [
            new ChatResponseUpdate(ChatRole.Assistant, "Hel") { ResponseId = "s-1" },
            new ChatResponseUpdate { Contents = [new UsageContent(new TokenUsage(300, 0).ToUsageDetails())] },
            new ChatResponseUpdate { Contents = [new TextContent("lo"), new UsageContent(new TokenUsage(0, 200).ToUsageDetails())] },
            new ChatResponseUpdate { AdditionalProperties = new() { [QlaudResponseProperties.Route] = "test/test-model" } },
        ];

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in _client.GetStreamingResponseAsync("hi", Options(secret)))
        {
            updates.Add(update);
        }

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.Equal((300L, 200L, 700L), (entry.InputTokens, entry.OutputTokens, entry.CostMicros));
        Assert.Matches("^req_[0-9a-f]{32}$", entry.RequestId);
        Assert.Equal(entry.RequestId, updates[0].AdditionalProperties![QlaudResponseProperties.RequestId]);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ConsumerStopsEarly_ChargesAnEstimateOfWhatWasGenerated()
    {
        var (_, secret, _) = await _h.MintAsync();
        _inner.Stream = static (_, _) => [new ChatResponseUpdate(ChatRole.Assistant, new string('x', 40)), new ChatResponseUpdate(ChatRole.Assistant, "never read")];

        await foreach (var _ in _client.GetStreamingResponseAsync("hi", Options(secret)))
        {
            break;
        }

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.True(entry.Estimated);
        Assert.Equal(10, entry.OutputTokens); // 40 characters at 4 per token
        Assert.True(entry.CostMicros > 0);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_FailsBeforeAnyOutput_ChargesNothing()
    {
        var (_, secret, _) = await _h.MintAsync();
        _inner.Stream = static (_, _) => throw new QlaudException(new QlaudError(QlaudErrorKind.Unavailable, "no route"));

        await Assert.ThrowsAsync<QlaudException>(async () =>
        {
            await foreach (var _ in _client.GetStreamingResponseAsync("hi", Options(secret)))
            {
            }
        });

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        Assert.Equal(0, await db.LedgerEntries.CountAsync());
        Assert.Equal(0, (await _h.Wallets.GetAsync("default", 0, default))!.ReservedMicros);
    }
}
