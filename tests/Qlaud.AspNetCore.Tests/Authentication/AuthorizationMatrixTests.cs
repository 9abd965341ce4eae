using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Authentication;

/// <summary>The README's authorization matrix, cell by cell over real HTTP: every endpoint × {bootstrap key, admin-scope key,
/// end-user key of the same account, master key of another account, no key}.</summary>
/// <remarks>One row per endpoint: a new endpoint is one more line in <see cref="Rows"/> (and <see cref="Rows_CoverEveryMappedEndpoint"/>
/// fails until it has one). Paths name the actors' resources: <c>{user}</c> the end-user key, <c>{admin}</c> the admin-scope key,
/// <c>{victim}</c> a key to revoke, <c>{tenant}</c> the other account, <c>{spare}</c> an account to disable. Stripe is not
/// configured here, so a caller allowed to top up gets 501 where one that is not gets 401/403.</remarks>
public sealed class AuthorizationMatrixTests : IAsyncLifetime
{
    private const string Chat = """{"model":"fake-gpt","messages":[{"role":"user","content":"hi"}]}""";
    private const string Message = """{"model":"fake-claude","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""";
    private const string Embedding = """{"model":"fake-embed","input":"hi"}""";

    /// <summary>The expected status per column: bootstrap, admin-scope, end user, other account, no key.</summary>
    private static readonly Row[] Rows =
    [
        new("POST", "/v1/chat/completions", Chat, [200, 200, 200, 200, 401]),
        new("POST", "/v1/messages", Message, [200, 200, 200, 200, 401], Anthropic: true),
        new("POST", "/v1/messages/count_tokens", Message, [200, 200, 200, 200, 401], Anthropic: true),
        new("POST", "/v1/embeddings", Embedding, [200, 200, 200, 200, 401]),
        new("GET", "/v1/models", null, [200, 200, 200, 200, 401]),
        new("GET", "/v1/catalog", null, [200, 200, 200, 200, 200]),
        new("POST", "/v1/keys", """{"end_user_id":"matrix"}""", [201, 201, 403, 201, 401]),
        new("POST", "/v1/keys", """{"scope":"admin"}""", [201, 403, 403, 201, 401]),
        new("GET", "/v1/keys", null, [200, 200, 403, 200, 401]),
        new("GET", "/v1/keys/{user}", null, [200, 200, 403, 404, 401]),
        new("PATCH", "/v1/keys/{user}", """{"name":"renamed"}""", [200, 200, 403, 404, 401]),
        new("PATCH", "/v1/keys/{admin}", """{"max_spend_usd":1000000}""", [200, 403, 403, 404, 401]),
        new("DELETE", "/v1/keys/{victim}", null, [200, 200, 403, 404, 401]),
        new("GET", "/v1/keys/{user}/usage", null, [200, 200, 403, 404, 401]),
        new("GET", "/v1/wallet", null, [200, 200, 403, 200, 401]),
        new("POST", "/v1/wallet/credit", """{"amount_usd":1}""", [201, 403, 403, 403, 401]),
        new("GET", "/v1/usage", null, [200, 200, 200, 200, 401]),
        new("GET", "/v1/usage?key_id={admin}", null, [200, 200, 403, 200, 401]),
        new("POST", "/v1/wallet/topup", """{"amount_usd":20,"success_url":"https://app.invalid/ok","cancel_url":"https://app.invalid/no"}""", [501, 403, 403, 501, 401]),
        new("GET", "/v1/wallet/topup/options", null, [501, 403, 403, 501, 401]),
        new("GET", "/v1/wallet/topup/{id}", null, [501, 403, 403, 501, 401], Pattern: "/v1/wallet/topup/{id}"),
        new("GET", "/v1/wallet/unapplied", null, [200, 403, 403, 403, 401]),
        new("POST", "/v1/stripe/webhook", "{}", [501, 501, 501, 501, 501]),
        new("POST", "/v1/accounts", """{"name":"matrix"}""", [201, 403, 403, 403, 401]),
        new("GET", "/v1/accounts", null, [200, 403, 403, 403, 401]),
        new("GET", "/v1/accounts/{tenant}", null, [200, 403, 403, 403, 401]),
        new("PATCH", "/v1/accounts/{tenant}", """{"name":"renamed"}""", [200, 403, 403, 403, 401]),
        new("POST", "/v1/accounts/{spare}/disable", null, [200, 403, 403, 403, 401]),
        new("POST", "/v1/threads", """{"title":"matrix"}""", [201, 201, 201, 201, 401], Anthropic: true),
        new("GET", "/v1/threads", null, [200, 200, 200, 200, 401], Anthropic: true),
        new("GET", "/v1/threads/{thread}", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("PATCH", "/v1/threads/{thread}", """{"title":"renamed"}""", [200, 200, 200, 404, 401], Anthropic: true),
        new("DELETE", "/v1/threads/{fresh_thread}", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("POST", "/v1/threads/{thread}/messages", """{"model":"fake-claude","max_tokens":16,"content":"hi"}""", [200, 200, 200, 404, 401], Anthropic: true),
        new("GET", "/v1/threads/{thread}/messages", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("DELETE", "/v1/end_users/erase-me", null, [200, 200, 403, 200, 401], Pattern: "/v1/end_users/{end_user_id}"),
        new("GET", "/v1/search?q=hi", null, [200, 200, 200, 200, 401]),
        new("POST", "/v1/files", "{}", [400, 400, 400, 400, 401]), // authorized callers get past the policy to the multipart check
        new("GET", "/v1/files", null, [200, 200, 200, 200, 401]),
        new("GET", "/v1/files/{file}", null, [200, 200, 200, 404, 401]),
        new("GET", "/v1/files/{file}/content", null, [200, 200, 200, 404, 401]),
        new("DELETE", "/v1/files/{fresh_file}", null, [200, 200, 200, 404, 401]),
        new("POST", "/v1/batches", """{"input_file_id":"{file}","endpoint":"/v1/chat/completions","completion_window":"24h"}""", [200, 200, 200, 404, 401]),
        new("GET", "/v1/batches", null, [200, 200, 200, 200, 401]),
        new("GET", "/v1/batches/{batch}", null, [200, 200, 200, 404, 401]),
        new("POST", "/v1/batches/{batch}/cancel", null, [200, 200, 200, 404, 401]),
        new("POST", "/v1/messages/batches", """{"requests":[{"custom_id":"a","params":{"model":"fake-claude","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}}]}""",
            [200, 200, 200, 200, 401], Anthropic: true),
        new("GET", "/v1/messages/batches", null, [200, 200, 200, 200, 401], Anthropic: true),
        new("GET", "/v1/messages/batches/{msgbatch}", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("POST", "/v1/messages/batches/{msgbatch}/cancel", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("GET", "/v1/messages/batches/{msgbatch}/results", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("DELETE", "/v1/messages/batches/{fresh_msgbatch}", null, [200, 200, 200, 404, 401], Anthropic: true),
        new("GET", "/v1/connectors", null, [200, 200, 200, 200, 401]),
        new("POST", "/v1/connections", """{"connector":"linear"}""", [201, 201, 201, 201, 401]),
        new("GET", "/v1/connections", null, [200, 200, 200, 200, 401]),
        new("DELETE", "/v1/connections/{connection}", null, [200, 200, 200, 404, 401]),
        new("GET", "/v1/tools", null, [200, 200, 200, 200, 401]),
        new("POST", "/v1/tools", """{"name":"{fresh_name}","description":"Look an order up.","input_schema":{"type":"object"},"url":"https://203.0.113.10/tool"}""",
            [201, 201, 403, 201, 401]),
        new("GET", "/v1/tools/{tool}", null, [200, 200, 200, 404, 401]),
        new("DELETE", "/v1/tools/{fresh_tool}", null, [200, 200, 403, 404, 401]),
    ];

    private static readonly string[] Columns = ["bootstrap key", "admin-scope key", "end-user key", "other account's key", "no key"];

    private GatewayHost _gateway = null!;
    private string?[] _keys = null!;
    private Dictionary<string, string> _ids = null!;
    private string _userKey = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Models:2:Id"] = "fake-embed",
            ["Qlaud:Models:2:Capabilities:0"] = "embeddings",
            ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-embed",
            ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        });
        var (adminId, adminSecret) = await _gateway.MintKeyAsync("""{"name":"ops","scope":"admin"}""");
        var (userId, userSecret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (victimId, _) = await _gateway.MintKeyAsync("""{"end_user_id":"victim"}""");
        using var operatorHttp = _gateway.Http();
        var (_, tenant) = await operatorHttp.PostJsonAsync("/v1/accounts", """{"name":"tenant"}""");
        var (_, spare) = await operatorHttp.PostJsonAsync("/v1/accounts", """{"name":"spare"}""");
        _userKey = userSecret;
        _keys = [GatewayHost.MasterKey, adminSecret, userSecret, tenant.GetProperty("master_key").GetProperty("secret").GetString(), null];
        _ids = new()
        {
            ["{user}"] = userId,
            ["{admin}"] = adminId,
            ["{victim}"] = victimId,
            ["{tenant}"] = tenant.GetProperty("id").GetString()!,
            ["{spare}"] = spare.GetProperty("id").GetString()!,
            ["{id}"] = "cs_test_matrix",
            ["{thread}"] = await CreateUserThreadAsync(),
            ["{file}"] = await CreateUserFileAsync(),
            ["{msgbatch}"] = await CreateEndedUserMessageBatchAsync(),
            ["{connection}"] = await CreateUserConnectionAsync(),
            ["{tool}"] = await CreateToolAsync(),
        };
        _ids["{batch}"] = await CreateUserBatchAsync(_ids["{file}"]);
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Matrix_EveryEndpointAndCaller_AnswersTheDocumentedStatusInItsSurfacesShape()
    {
        var failures = new List<string>();
        foreach (var row in Rows)
        {
            string path = row.Path;
            foreach (var (placeholder, id) in _ids)
            {
                path = path.Replace(placeholder, id, StringComparison.Ordinal);
            }

            for (int column = 0; column < Columns.Length; column++)
            {
                using var http = _gateway.Http(_keys[column]);
                // {fresh_thread}: each caller gets a thread of the end user's own (a delete must not see the previous caller's).
                string cellPath = path.Contains("{fresh_thread}", StringComparison.Ordinal)
                    ? path.Replace("{fresh_thread}", await CreateUserThreadAsync(), StringComparison.Ordinal)
                    : path;
                cellPath = cellPath.Contains("{fresh_file}", StringComparison.Ordinal)
                    ? cellPath.Replace("{fresh_file}", await CreateUserFileAsync(), StringComparison.Ordinal)
                    : cellPath;
                cellPath = cellPath.Contains("{fresh_msgbatch}", StringComparison.Ordinal)
                    ? cellPath.Replace("{fresh_msgbatch}", await CreateEndedUserMessageBatchAsync(), StringComparison.Ordinal)
                    : cellPath;
                cellPath = cellPath.Contains("{fresh_tool}", StringComparison.Ordinal)
                    ? cellPath.Replace("{fresh_tool}", await CreateToolAsync(), StringComparison.Ordinal)
                    : cellPath;
                using var request = new HttpRequestMessage(new HttpMethod(row.Method), cellPath);
                if (row.Body is not null)
                {
                    string body = row.Body.Replace("{fresh_name}", "matrix_" + Guid.NewGuid().ToString("N")[..12], StringComparison.Ordinal);
                    foreach (var (placeholder, id) in _ids)
                    {
                        body = body.Replace(placeholder, id, StringComparison.Ordinal);
                    }

                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }

                using var response = await http.SendAsync(request);
                int status = (int)response.StatusCode;
                string text = await response.Content.ReadAsStringAsync();
                if (status != row.Expected[column])
                {
                    failures.Add($"{row.Method} {row.Path} with {Columns[column]}: {status}, expected {row.Expected[column]} ({text})");
                }
                else if (status is 401 or 403 && !InSurfaceShape(text, row.Anthropic))
                {
                    failures.Add($"{row.Method} {row.Path} with {Columns[column]}: {status} not in the {(row.Anthropic ? "Anthropic" : "OpenAI")} error shape ({text})");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Rows_CoverEveryMappedEndpoint()
    {
        var mapped = _gateway.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(static e => e.RoutePattern.RawText?.StartsWith("/v1", StringComparison.Ordinal) == true)
            .SelectMany(static e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {e.RoutePattern.RawText}"));
        var covered = Rows.Select(static r => $"{r.Method} {r.Pattern ?? Pattern(r.Path)}").ToHashSet();

        var missing = mapped.Where(m => !covered.Contains(m)).ToList();
        Assert.True(missing.Count == 0, "Endpoints without a row in the matrix: " + string.Join(", ", missing));
    }

    /// <summary>A thread of the end user's (the end-user key's <c>alice</c>).</summary>
    private async Task<string> CreateUserThreadAsync()
    {
        using var http = _gateway.Http(_userKey);
        var (status, thread) = await http.PostJsonAsync("/v1/threads", """{"title":"alice"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return thread.GetProperty("id").GetString()!;
    }

    /// <summary>A batch input file of the end user's.</summary>
    private async Task<string> CreateUserFileAsync()
    {
        using var http = _gateway.Http(_userKey);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new StringContent("""{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"fake-gpt","messages":[{"role":"user","content":"hi"}]}}"""), "file", "in.jsonl" },
        };
        using var response = await http.PostAsync("/v1/files", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var file = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return file.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>An OpenAI batch of the end user's.</summary>
    private async Task<string> CreateUserBatchAsync(string fileId)
    {
        using var http = _gateway.Http(_userKey);
        var (status, batch) = await http.PostJsonAsync("/v1/batches", $$"""{"input_file_id":"{{fileId}}","endpoint":"/v1/chat/completions","completion_window":"24h"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        return batch.GetProperty("id").GetString()!;
    }

    /// <summary>An Anthropic message batch of the end user's that has ended (its results can be read, it can be deleted).</summary>
    private async Task<string> CreateEndedUserMessageBatchAsync()
    {
        using var http = _gateway.Http(_userKey);
        var (status, batch) = await http.PostJsonAsync("/v1/messages/batches",
            """{"requests":[{"custom_id":"a","params":{"model":"fake-claude","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        string id = batch.GetProperty("id").GetString()!;
        for (int i = 0; i < 300 && batch.GetProperty("processing_status").GetString() != "ended"; i++)
        {
            await Task.Delay(20);
            (_, batch) = await http.GetJsonAsync($"/v1/messages/batches/{id}");
        }

        Assert.Equal("ended", batch.GetProperty("processing_status").GetString());
        return id;
    }

    /// <summary>A (pending) connector connection of the end user's.</summary>
    private async Task<string> CreateUserConnectionAsync()
    {
        using var http = _gateway.Http(_userKey);
        var (status, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return link.GetProperty("connection_id").GetString()!;
    }

    /// <summary>A webhook tool of the bootstrap account, for every end user.</summary>
    private async Task<string> CreateToolAsync()
    {
        using var http = _gateway.Http();
        var (status, tool) = await http.PostJsonAsync("/v1/tools",
            $$"""{"name":"t_{{Guid.NewGuid():N}}","description":"Look an order up.","input_schema":{"type":"object"},"url":"https://203.0.113.10/tool"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return tool.GetProperty("id").GetString()!;
    }

    private static string Pattern(string path)
    {
        int query = path.IndexOf('?', StringComparison.Ordinal);
        path = query < 0 ? path : path[..query];
        foreach (string placeholder in (string[])["{user}", "{admin}", "{victim}", "{tenant}", "{spare}", "{thread}", "{fresh_thread}", "{file}", "{fresh_file}", "{batch}",
            "{msgbatch}", "{fresh_msgbatch}", "{connection}", "{tool}", "{fresh_tool}"])
        {
            path = path.Replace(placeholder, "{id}", StringComparison.Ordinal);
        }

        return path;
    }

    private static bool InSurfaceShape(string text, bool anthropic)
    {
        using var body = JsonDocument.Parse(text);
        var root = body.RootElement;
        return anthropic
            ? root.GetProperty("type").GetString() == "error" && root.GetProperty("error").GetProperty("type").GetString() is "authentication_error" or "permission_error"
            : root.GetProperty("error").GetProperty("type").GetString() is { Length: > 0 } && root.GetProperty("error").TryGetProperty("message", out _);
    }

    private sealed record Row(string Method, string Path, string? Body, int[] Expected, bool Anthropic = false, string? Pattern = null);
}
