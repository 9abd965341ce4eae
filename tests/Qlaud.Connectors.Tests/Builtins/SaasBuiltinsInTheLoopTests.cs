using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using Qlaud.FakeProvider;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>The SaaS builtins in a thread turn: the fake provider's scripted model calls <c>send_email</c> and
/// <c>slack_post_message</c>, the fake vendors receive the calls, the model reads their results, and each call is a <c>tool</c>
/// ledger entry at the tool's default price (Resend's $0.0004 an email, Slack's $0).</summary>
public sealed class SaasBuiltinsInTheLoopTests
{
    [Fact]
    public async Task ThreadTurn_SendsAnEmailAndPostsToSlack_VendorsCalledAndCallsOnTheLedger()
    {
        await using var resend = await FakeVendorServer.StartAsync(FakeResend.Behaviour);
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:send_email:ApiKey"] = FakeResend.Key,
            ["Qlaud:Builtins:send_email:BaseUrl"] = resend.Url,
            ["Qlaud:Builtins:send_email:From"] = "Acme <noreply@acme.test>",
            ["Qlaud:Builtins:slack_post_message:ApiKey"] = FakeSlack.Token,
            ["Qlaud:Builtins:slack_post_message:BaseUrl"] = slack.Url + "/api/",
        });
        var (keyId, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = gateway.Http(alice);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        gateway.Fake.Enqueue(
            FakeReply.ToolCall("send_email", """{"to":["ann@example.com"],"subject":"Welcome","text":"Hello Ann"}""", "toolu_mail"),
            FakeReply.ToolCall("slack_post_message", """{"channel":"C0123456789","text":"Mailed Ann"}""", "toolu_slack"),
            FakeReply.Text("Done: mailed Ann and told the channel."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            """{"max_tokens":64,"tools_mode":"static","content":"Welcome Ann by email and tell the channel."}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var email = Assert.Single(resend.Requests);
        Assert.Equal("Hello Ann", email.Json().GetProperty("text").GetString());
        Assert.Equal("Mailed Ann", Assert.Single(slack.Requests).Json().GetProperty("text").GetString());
        Assert.Contains("recipients", gateway.Fake.Requests[1].BodyText, StringComparison.Ordinal);
        Assert.Contains("1503435956.000247", gateway.Fake.Requests[2].BodyText, StringComparison.Ordinal);
        Assert.Contains("Done", reply.GetRawText(), StringComparison.Ordinal);

        await gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var entries = await db.LedgerEntries.Where(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Tool).OrderBy(e => e.Tool).ToListAsync();
        Assert.Equal(["send_email", "slack_post_message"], entries.Select(e => e.Tool));
        Assert.Equal([400L, 0L], entries.Select(e => e.CostMicros));
        Assert.Equal("toolu_mail", entries[0].RequestId);
    }
}
