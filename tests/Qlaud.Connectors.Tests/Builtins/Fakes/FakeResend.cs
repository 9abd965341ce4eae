using System.Collections.Concurrent;
using System.Text.Json;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>Resend's <c>POST /emails</c> as documented (https://resend.com/docs/api-reference/emails/send-email and
/// https://resend.com/docs/api-reference/errors): <c>Authorization: Bearer re_…</c>; <c>from</c>, <c>to</c> (at most 50) and
/// <c>subject</c> required; a sender on an unverified domain refused with 403; errors as <c>{"statusCode","message","name"}</c>;
/// an <c>Idempotency-Key</c> seen before with the same body answers the same id, with another body 409.</summary>
public static class FakeResend
{
    public const string Key = "re_TestKey_0000000000000000000000";
    public const string VerifiedDomain = "acme.test";

    private static readonly ConcurrentDictionary<string, (string Body, string Id)> Seen = new();

    public static VendorResponse Behaviour(VendorRequest request)
    {
        if (request.Method != "POST" || request.Path != "/emails")
        {
            return Error(404, "not_found", "The requested endpoint does not exist.");
        }

        string? auth = request.Header("Authorization");
        if (auth is null)
        {
            return Error(401, "missing_api_key", "Missing API key in the authorization header. Include the following header in the request: Authorization: Bearer YOUR_API_KEY");
        }

        if (auth != "Bearer " + Key)
        {
            return Error(401, "validation_error", "API key is invalid");
        }

        if (request.Header("Idempotency-Key") is { } key)
        {
            if (Seen.TryGetValue(key, out var seen))
            {
                return seen.Body == request.Body
                    ? VendorResponse.Json(200, $$"""{"id":"{{seen.Id}}"}""")
                    : Error(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload. Change your idempotency key or payload.");
            }
        }

        var body = request.Json();
        if (!body.TryGetProperty("from", out var from) || !body.TryGetProperty("to", out var to) || !body.TryGetProperty("subject", out _))
        {
            return Error(422, "missing_required_field", "The request body is missing one or more required fields.");
        }

        string sender = from.GetString()!;
        if (!sender.TrimEnd('>').EndsWith("@" + VerifiedDomain, StringComparison.OrdinalIgnoreCase))
        {
            string domain = sender.TrimEnd('>').Split('@')[^1];
            return Error(403, "validation_error", $"The {domain} domain is not verified. Please, add and verify your domain on https://resend.com/domains");
        }

        if (to.ValueKind == JsonValueKind.Array && to.GetArrayLength() > 50)
        {
            return Error(422, "validation_error", "Too many recipients: `to` accepts at most 50 addresses.");
        }

        string id = Guid.NewGuid().ToString();
        if (request.Header("Idempotency-Key") is { } newKey)
        {
            Seen[newKey] = (request.Body, id);
        }

        return VendorResponse.Json(200, $$"""{"id":"{{id}}"}""");
    }

    public static VendorResponse Error(int status, string name, string message, IReadOnlyDictionary<string, string>? headers = null)
        => VendorResponse.Json(status, JsonSerializer.Serialize(new { statusCode = status, message, name }), headers);
}
