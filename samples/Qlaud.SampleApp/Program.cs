// A plain app that uses Qlaud in-process: no HTTP server, just an IChatClient injected where it is needed.
// Run: dotnet run --project samples/Qlaud.SampleApp -- "your question" [model]
// With no provider keys it uses the offline model qlaud/echo.
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qlaud;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddQlaud();
builder.Services.AddSingleton<Assistant>();
using var host = builder.Build();
await host.StartAsync(); // storage migrations and the ledger writer run as hosted services

string question = args.Length > 0 ? args[0] : "What does an in-process LLM gateway do?";
string model = args.Length > 1 ? args[1] : "qlaud/echo";
var assistant = host.Services.GetRequiredService<Assistant>();
await assistant.AskAsync(question, model);
await host.StopAsync(); // flushes the usage ledger

/// <summary>App code: depends only on <see cref="IChatClient"/>.</summary>
internal sealed class Assistant(IChatClient chat)
{
    public async Task AskAsync(string question, string model)
    {
        Console.Write($"[{model}] ");
        ChatResponseUpdate? last = null;
        await foreach (var update in chat.GetStreamingResponseAsync(question, new ChatOptions { ModelId = model }))
        {
            Console.Write(update.Text);
            last = update;
        }

        Console.WriteLine();
        if (last?.AdditionalProperties is { } properties)
        {
            Console.WriteLine($"route: {properties[QlaudResponseProperties.Route]}, cost: {properties[QlaudResponseProperties.CostMicros]} micro-USD");
        }
    }
}
