using System.Net;
using System.Text;
using System.Text.Json;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary>Raw JSON calls for the account endpoints: the status and the parsed body.</summary>
public static class JsonHttp
{
    public static Task<(HttpStatusCode Status, JsonElement Body)> GetJsonAsync(this HttpClient client, string path)
        => SendAsync(client, HttpMethod.Get, path, null);

    public static Task<(HttpStatusCode Status, JsonElement Body)> PostJsonAsync(this HttpClient client, string path, string json)
        => SendAsync(client, HttpMethod.Post, path, json);

    public static Task<(HttpStatusCode Status, JsonElement Body)> PatchJsonAsync(this HttpClient client, string path, string json)
        => SendAsync(client, HttpMethod.Patch, path, json);

    public static Task<(HttpStatusCode Status, JsonElement Body)> DeleteJsonAsync(this HttpClient client, string path)
        => SendAsync(client, HttpMethod.Delete, path, null);

    public static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient client, HttpMethod method, string path, string? json, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(name, value);
        }

        using var response = await client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Mints a key with the master key; returns its id and secret.</summary>
    public static async Task<(string Id, string Secret)> MintKeyAsync(this GatewayHost gateway, string json = """{"name":"test","end_user_id":"user-1"}""")
    {
        using var http = gateway.Http();
        var (status, body) = await http.PostJsonAsync("/v1/keys", json);
        Assert.Equal(HttpStatusCode.Created, status);
        return (body.GetProperty("id").GetString()!, body.GetProperty("secret").GetString()!);
    }

    /// <summary>The key's one ledger entry (<c>GET /v1/keys/{id}/usage</c>), waiting up to 20 seconds for the writer to flush it.</summary>
    public static async Task<JsonElement> SingleUsageEntryAsync(this GatewayHost gateway, string keyId)
    {
        using var admin = gateway.Http();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var (_, usage) = await admin.GetJsonAsync($"/v1/keys/{keyId}/usage");
            var data = usage.GetProperty("data");
            if (data.GetArrayLength() > 0 || DateTime.UtcNow > deadline)
            {
                return Assert.Single(data.EnumerateArray());
            }

            await Task.Delay(20);
        }
    }
}
