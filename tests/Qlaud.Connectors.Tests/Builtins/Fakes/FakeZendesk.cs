using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>Zendesk's Ticketing API for tickets as documented (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/):
/// <c>POST /api/v2/tickets.json</c> with basic authentication <c>{email}/token:{api_token}</c>, 201 with the ticket, 401
/// <c>Couldn't authenticate you</c>, 422 <c>RecordInvalid</c>; a repeated <c>Idempotency-Key</c> gets the first answer again
/// with <c>x-idempotency-lookup: hit</c>.</summary>
public static class FakeZendesk
{
    public const string Email = "agent@acme.test";
    public const string Token = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv";

    private static readonly ConcurrentDictionary<string, string> Answered = new();
    private static int _next = 35435;

    public static VendorResponse Behaviour(VendorRequest request)
    {
        if (request.Method != "POST" || request.Path != "/api/v2/tickets.json")
        {
            return VendorResponse.Json(404, """{"error":"InvalidEndpoint","description":"Not found"}""");
        }

        string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Email}/token:{Token}"));
        if (request.Header("Authorization") != expected)
        {
            return VendorResponse.Json(401, """{"error":"Couldn't authenticate you"}""");
        }

        if (request.Header("Content-Type") != "application/json")
        {
            return VendorResponse.Json(400, """{"error":"Unsupported Content-Type"}""");
        }

        string? key = request.Header("Idempotency-Key");
        if (key is not null && Answered.TryGetValue(key, out string? earlier))
        {
            return VendorResponse.Json(201, earlier, new Dictionary<string, string> { ["x-idempotency-lookup"] = "hit" });
        }

        var ticket = request.Json().GetProperty("ticket");
        string? priority = ticket.TryGetProperty("priority", out var p) ? p.GetString() : null;
        if (!ticket.TryGetProperty("comment", out var comment) || string.IsNullOrEmpty(comment.GetProperty("body").GetString()))
        {
            return VendorResponse.Json(422, """{"error":"RecordInvalid","description":"Record validation errors","details":{"description":[{"description":"Description: cannot be blank","error":"BlankValue"}]}}""");
        }

        if (ticket.GetProperty("subject").GetString()!.Contains("spam", StringComparison.OrdinalIgnoreCase))
        {
            return VendorResponse.Json(422, """{"error":"RecordInvalid","description":"Record validation errors","details":{"base":[{"description":"Ticket was flagged as spam","error":"InvalidValue"}]}}""");
        }

        int id = Interlocked.Increment(ref _next);
        string answer = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["ticket"] = new Dictionary<string, object?>
            {
                ["id"] = id,
                ["url"] = $"https://acme.zendesk.com/api/v2/tickets/{id}.json",
                ["subject"] = ticket.GetProperty("subject").GetString(),
                ["description"] = comment.GetProperty("body").GetString(),
                ["priority"] = priority,
                ["status"] = "new",
                ["requester_id"] = 20978392,
                ["tags"] = Array.Empty<string>(),
                ["created_at"] = "2009-07-20T22:55:29Z",
            },
            ["audit"] = new Dictionary<string, object> { ["events"] = Array.Empty<object>() },
        });
        if (key is not null)
        {
            Answered[key] = answer;
        }

        return VendorResponse.Json(201, answer, new Dictionary<string, string> { ["Location"] = $"https://acme.zendesk.com/api/v2/tickets/{id}.json" });
    }
}
