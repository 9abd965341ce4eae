using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Models.Messages;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>Raw calls to the thread endpoints, and the official Anthropic SDK's models and stream accumulator for turn answers.</summary>
internal static class ThreadTestClient
{
    public static async Task<string> CreateThreadAsync(this HttpClient http, string json = "{}")
    {
        var (status, body) = await http.PostJsonAsync("/v1/threads", json);
        Assert.Equal(HttpStatusCode.Created, status);
        return body.GetProperty("id").GetString()!;
    }

    public static string Turn(string text, string? model = "fake-claude", int maxTokens = 256, bool stream = false, string extra = "")
        => $$"""{{{(model is null ? "" : $"\"model\":\"{model}\",")}}"max_tokens":{{maxTokens}},"content":{{JsonSerializer.Serialize(text)}}{{(stream ? ",\"stream\":true" : "")}}{{extra}}}""";

    /// <summary>Posts a turn; the answer's status, headers and body.</summary>
    public static async Task<(HttpStatusCode Status, HttpResponseMessage Response, string Body)> PostTurnAsync(this HttpClient http, string threadId, string json, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/threads/{threadId}/messages") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        var response = await http.SendAsync(request);
        return (response.StatusCode, response, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A non-streamed turn answer read as the SDK's <see cref="Message"/>.</summary>
    public static Message ReadMessage(string body) => JsonSerializer.Deserialize<Message>(body)!;

    /// <summary>A streamed turn answer parsed as the SDK's stream events and accumulated by the SDK.</summary>
    public static async Task<Message> AggregateStreamAsync(string sse)
    {
        var events = new List<RawMessageStreamEvent>();
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(sse));
        await foreach (var item in SseParser.Create(stream).EnumerateAsync())
        {
            events.Add(JsonSerializer.Deserialize<RawMessageStreamEvent>(item.Data)!);
        }

        return await Replay(events).Aggregate();
    }

    public static string Text(Message message) => string.Concat(message.Content.Select(static b => b.TryPickText(out var t) ? t.Text : ""));

    public static async Task<List<JsonElement>> MessagesAsync(this HttpClient http, string threadId, string query = "order=asc&limit=100")
    {
        var (status, body) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages?{query}");
        Assert.Equal(HttpStatusCode.OK, status);
        return [.. body.GetProperty("data").EnumerateArray()];
    }

    /// <summary>A second account with its own master-scope (admin) key, made directly in the store.</summary>
    public static async Task<string> SecondAccountKeyAsync(this GatewayHost gateway, string accountId = "acct-two")
    {
        var factory = gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using (var db = await factory.CreateDbContextAsync())
        {
            db.Accounts.Add(new AccountEntity { Id = accountId, Name = "Second", CreatedAtMs = 1 });
            db.Wallets.Add(new WalletEntity { AccountId = accountId, BalanceMicros = 0, UpdatedAtMs = 1 });
            await db.SaveChangesAsync();
        }

        var (_, secret) = await gateway.Services.GetRequiredService<KeyService>().CreateAsync(accountId,
            new NewKey("other admin", KeyScope.Admin, null, null, LimitReset.None, null, null, null), default);
        return secret;
    }

    private static async IAsyncEnumerable<T> Replay<T>(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            yield return item;
        }

        await Task.CompletedTask;
    }
}
