// Qlaud.Server: the self-hosted gateway. Zero setup: SQLite next to the binary, the offline qlaud/echo model,
// and a master key generated and printed when none is configured.
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Hosting;

var builder = WebApplication.CreateSlimBuilder(args);

// One log line per request at Information costs more CPU than the forwarding itself; the gateway logs its own attempts.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
if (string.IsNullOrEmpty(builder.Configuration[$"{QlaudOptions.SectionName}:Urls"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://127.0.0.1:8080");
}

// A burst of clients opening connections at once (a thousand streams starting together) waits in the listen socket's
// accept queue; beyond Kestrel's default of 512 the kernel drops the SYNs, and each client retries only after a second.
// The kernel caps the value at net.core.somaxconn.
builder.WebHost.UseSockets(static sockets => sockets.Backlog = 4096);

string? generatedKey = null;
if (string.IsNullOrEmpty(builder.Configuration["Qlaud:Bootstrap:MasterKey"]))
{
    generatedKey = QlaudKeys.Generate();
    builder.Configuration["Qlaud:Bootstrap:MasterKey"] = generatedKey;
}

// Search over thread messages is hybrid (BM25 + semantic) offline: the MiniLM model embeds messages in process.
builder.Services.AddQlaud().AddLocalEmbeddings();
var app = builder.Build();
app.MapQlaud();
app.MapQlaudHealthChecks(); // GET /healthz (live), GET /readyz (database and ledger writer)

app.Lifetime.ApplicationStarted.Register(() =>
{
    var catalog = app.Services.GetRequiredService<ModelCatalog>();
    var urls = string.Join(", ", app.Urls);
    Console.WriteLine($"Qlaud gateway listening on {urls}");
    Console.WriteLine($"  OpenAI base URL:    {app.Urls.First()}/v1");
    Console.WriteLine($"  Anthropic base URL: {app.Urls.First()}");
    Console.WriteLine(generatedKey is null
        ? "  Master key: from configuration (Qlaud:Bootstrap:MasterKey)"
        : $"  Master key (generated for this run; set Qlaud__Bootstrap__MasterKey to keep one): {generatedKey}");
    Console.WriteLine("  Authenticate with 'Authorization: Bearer <key>' or 'x-api-key: <key>'.");
    Console.WriteLine("  End-user keys, wallet and usage: POST /v1/keys, GET /v1/wallet, GET /v1/usage (with the master key).");
    Console.WriteLine("  Threads and search: POST /v1/threads, GET /v1/search?q= (hybrid keyword + semantic, local MiniLM embeddings).");
    var providers = catalog.Providers.Values.Where(static p => p.IsAvailable).Select(static p => p.Name).Order().ToList();
    Console.WriteLine($"  Providers configured: {string.Join(", ", providers)}");
    Console.WriteLine($"  Models available: {catalog.Models.Count(static m => m.IsAvailable)} of {catalog.Models.Length} (GET /v1/catalog lists all)");
    if (providers.Count == 1)
    {
        Console.WriteLine("  No provider API keys set: only the offline model 'qlaud/echo' answers. Set e.g. OPENAI_API_KEY or Qlaud__Providers__openai__ApiKey.");
    }
});

app.Run();
