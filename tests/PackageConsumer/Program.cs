// A NuGet user's app: Qlaud from its packages (not project references), the gateway on Kestrel at 127.0.0.1 with the offline
// model qlaud/echo. Makes one real HTTP request to /v1/chat/completions and one in-process IChatClient call, checks that the
// connectors and the local embeddings packages are wired, and exits 0 only when every answer is the expected one.
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Connectors;
using Qlaud.Search;

const string MasterKey = "qlk_live_packageconsumer0123456789abcdefghijklmnop";
string dataDir = Directory.CreateTempSubdirectory("qlaud-package-consumer-").FullName;
var failures = new List<string>();
try
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    builder.Configuration["Qlaud:Bootstrap:MasterKey"] = MasterKey;
    builder.Configuration["Qlaud:Storage:ConnectionString"] = $"Data Source={Path.Combine(dataDir, "qlaud.db")}";
    builder.Services.AddQlaud().AddLocalEmbeddings();

    await using var app = builder.Build();
    app.MapQlaud();
    await app.StartAsync();
    string baseAddress = app.Urls.First(); // the port Kestrel bound for 127.0.0.1:0

    // 1. Real HTTP: the OpenAI surface, authenticated with the bootstrap master key.
    const string HttpPrompt = "Hello over HTTP from the package consumer";
    using (var http = new HttpClient { BaseAddress = new Uri(baseAddress), Timeout = TimeSpan.FromSeconds(60) })
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "qlaud/echo", messages = new[] { new { role = "user", content = HttpPrompt } } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);
        using var response = await http.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        string? content = null;
        if (response.IsSuccessStatusCode)
        {
            using var doc = JsonDocument.Parse(body);
            content = doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        }

        Check((int)response.StatusCode == 200 && content == HttpPrompt,
            $"POST /v1/chat/completions: {(int)response.StatusCode} {body}");
        Check(response.Headers.TryGetValues("x-qlaud-route", out var route) && route.Single().StartsWith("qlaud/", StringComparison.Ordinal),
            "POST /v1/chat/completions: no x-qlaud-route header naming the echo route");
    }

    // 2. In process: the app's IChatClient.
    const string InProcessPrompt = "Hello in process from the package consumer";
    var chat = app.Services.GetRequiredService<IChatClient>();
    var answer = await chat.GetResponseAsync(InProcessPrompt, new ChatOptions { ModelId = "qlaud/echo" });
    Check(answer.Text == InProcessPrompt, $"IChatClient: answered '{answer.Text}'");

    // 3. The other two packages are there and work: connectors registered by AddQlaud() with Qlaud.AspNetCore, and the
    // MiniLM model (ONNX Runtime's native library from its package) embedding a sentence.
    Check(app.Services.GetService<IQlaudConnectors>() is not null, "IQlaudConnectors is not registered");
    var embedder = app.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey);
    var vector = await embedder.GenerateVectorAsync("a sentence to embed");
    Check(vector.Length == 384, $"local embeddings: {vector.Length} dimensions, expected 384");

    await app.StopAsync();
}
catch (Exception ex)
{
    failures.Add(ex.ToString());
}
finally
{
    Directory.Delete(dataDir, recursive: true);
}

foreach (var failure in failures)
{
    Console.Error.WriteLine($"FAIL: {failure}");
}

Console.WriteLine(failures.Count == 0
    ? "package consumer: HTTP /v1/chat/completions and in-process IChatClient answered through the packages"
    : $"package consumer: {failures.Count} check(s) failed");
return failures.Count == 0 ? 0 : 1;

void Check(bool condition, string failure)
{
    if (!condition)
    {
        failures.Add(failure);
    }
}
