using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Xunit.Abstractions;

namespace Qlaud.AspNetCore.Tests.Faults;

/// <summary>
/// The database file becomes read-only mid-run (<c>chattr +i</c> on the file and its WAL: the kernel refuses writes even to
/// root and even on descriptors SQLite already holds, so SQLite's own write calls fail). The gateway must not crash, must
/// refuse metered requests with 503 while the ledger cannot be written, keep serving free routes, report it on
/// <c>/readyz</c>, recover when the file is writable again, and end with every balance equal to its ledger rows.
/// </summary>
public sealed class ReadOnlyDatabaseTests(ITestOutputHelper output)
{
    private static readonly FakeUsage Usage = new() { InputTokens = 12, OutputTokens = 5 };

    [Fact]
    public async Task Gateway_DatabaseReadOnlyMidRun_RefusesMeteredRequestsThenRecoversWithoutLosingOrDoublingCharges()
    {
        using var database = new TempDatabase();
        if (!await ImmutableSupportedAsync(database.Path + ".probe"))
        {
            output.WriteLine("chattr +i is not available here (needs root and a file system with the immutable attribute); nothing was tested.");
            return;
        }

        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Storage:ConnectionString"] = database.ConnectionString,
            ["Qlaud:Limits:StorageTimeoutSeconds"] = "1",
            ["Qlaud:Models:2:Id"] = "free-gpt",
            ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-free",
            ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "0",
            ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "0",
        });
        gateway.Fake.Responder = static _ => FakeReply.Text("ok") with { Usage = Usage };
        var keys = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            keys.Add((await gateway.MintKeyAsync($$"""{"end_user_id":"user-{{i}}","max_spend_usd":1}""")).Secret);
        }

        var answered = new List<string>(); // request ids of metered 200s: each must be in the ledger exactly once
        foreach (string key in keys)
        {
            for (int i = 0; i < 5; i++)
            {
                answered.Add(Assert.IsType<string>(await ChatAsync(gateway, key, "fake-gpt", HttpStatusCode.OK)));
            }
        }

        string[] files = [database.Path, database.Path + "-wal"];
        try
        {
            await SetImmutableAsync(files, true);

            // The writer finds out at its next commit: requests admitted before then are charged and must reach the ledger later.
            var refusedBy = Stopwatch.StartNew();
            string? refusal = null;
            while (refusal is null && refusedBy.Elapsed < TimeSpan.FromSeconds(10))
            {
                using var http = gateway.Http(keys[0]);
                using var response = await PostChatAsync(http, "fake-gpt");
                string body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    answered.Add(response.Headers.GetValues("x-qlaud-request-id").Single());
                }
                else
                {
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                    refusal = body;
                }
            }

            Assert.NotNull(refusal);
            output.WriteLine($"refused after {refusedBy.ElapsedMilliseconds} ms: {refusal}");
            using (var error = JsonDocument.Parse(refusal))
            {
                Assert.Equal("ledger_unavailable", error.RootElement.GetProperty("error").GetProperty("code").GetString());
            }

            // The official SDKs see a 503 in their own dialect, and the fake saw no request for it.
            int upstreamBefore = gateway.Fake.Requests.Count;
            var sdkError = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAIChat("fake-gpt", keys[1]).CompleteChatAsync([new UserChatMessage("hi")]));
            Assert.Equal(503, sdkError.Status);
            var anthropicError = await Assert.ThrowsAnyAsync<Anthropic.Exceptions.AnthropicApiException>(() => gateway.AnthropicClient(keys[2]).Messages.Create(
                new Anthropic.Models.Messages.MessageCreateParams { Model = "fake-claude", MaxTokens = 10, Messages = [new Anthropic.Models.Messages.UserMessageParam("hi")] }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, anthropicError.StatusCode);
            Assert.Contains("\"type\":\"error\"", anthropicError.ResponseBody, StringComparison.Ordinal);
            Assert.Equal(upstreamBefore, gateway.Fake.Requests.Count);

            // A route that costs nothing is still served: no money moves, so nothing is spent unrecorded.
            Assert.NotNull(await ChatAsync(gateway, keys[0], "free-gpt", HttpStatusCode.OK));

            // Readiness reports it; liveness does not; the account endpoints answer 503 at once instead of hanging.
            using var anonymous = gateway.Http(key: null);
            var (readyStatus, ready) = await anonymous.GetJsonAsync("/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readyStatus);
            Assert.Equal("Unhealthy", ready.GetProperty("checks").GetProperty("qlaud_ledger").GetProperty("status").GetString());
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetJsonAsync("/healthz")).Status);
            using var admin = gateway.Http();
            var timer = Stopwatch.StartNew();
            var (walletStatus, wallet) = await admin.GetJsonAsync("/v1/wallet");
            var (usageStatus, _) = await admin.GetJsonAsync("/v1/usage");
            var (mintStatus, _) = await admin.PostJsonAsync("/v1/keys", """{"name":"during outage"}""");
            Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable), (walletStatus, usageStatus, mintStatus));
            Assert.Equal("storage_unavailable", wallet.GetProperty("error").GetProperty("code").GetString());
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(10), $"the account endpoints took {timer.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            await SetImmutableAsync(files, false);
        }

        // Writable again: the writer's retries commit what was queued, readiness returns, metered requests are served.
        var recovery = Stopwatch.StartNew();
        using (var anonymous = gateway.Http(key: null))
        {
            while ((await anonymous.GetJsonAsync("/readyz")).Status != HttpStatusCode.OK)
            {
                Assert.True(recovery.Elapsed < TimeSpan.FromSeconds(15), "readiness did not return within 15 s of the file becoming writable");
                await Task.Delay(50);
            }
        }

        output.WriteLine($"ready again {recovery.ElapsedMilliseconds} ms after the file became writable");
        answered.Add(Assert.IsType<string>(await ChatAsync(gateway, keys[1], "fake-gpt", HttpStatusCode.OK)));
        using (var admin = gateway.Http())
        {
            var (status, wallet) = await admin.GetJsonAsync("/v1/wallet");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());
        }

        await gateway.StopAsync();
        var audit = await LedgerAudit.ReadAsync(database.ConnectionString);
        audit.AssertConsistent();
        var metered = audit.UsageRequestIds.ToHashSet();
        Assert.All(answered, id => Assert.Contains(id, metered));
        output.WriteLine($"{answered.Count} metered answers, {audit.UsageRequestIds.Count} usage rows (with the free request)");
        Assert.Equal(answered.Count + 1, audit.UsageRequestIds.Count);
    }

    private static async Task<string?> ChatAsync(GatewayHost gateway, string key, string model, HttpStatusCode expected)
    {
        using var http = gateway.Http(key);
        using var response = await PostChatAsync(http, model);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {body}");
        return response.Headers.TryGetValues("x-qlaud-request-id", out var ids) ? ids.Single() : null;
    }

    private static Task<HttpResponseMessage> PostChatAsync(HttpClient http, string model) => http.PostAsync("/v1/chat/completions",
        new StringContent($$"""{"model":"{{model}}","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

    private static async Task<bool> ImmutableSupportedAsync(string probe)
    {
        await File.WriteAllTextAsync(probe, "probe");
        try
        {
            if (!OperatingSystem.IsLinux() || await RunAsync("chattr", "+i", probe) != 0)
            {
                return false;
            }

            await RunAsync("chattr", "-i", probe);
            return true;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no chattr
        }
        finally
        {
            File.Delete(probe);
        }
    }

    private static async Task SetImmutableAsync(string[] files, bool on)
    {
        foreach (string file in files)
        {
            if (File.Exists(file))
            {
                Assert.Equal(0, await RunAsync("chattr", on ? "+i" : "-i", file));
            }
        }
    }

    private static async Task<int> RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode;
    }
}
