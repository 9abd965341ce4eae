// The naive proxy: every request is sent to --upstream with the same method, path, body, Authorization and
// Content-Type, and the answer is copied back, flushed after every read so streams stay streams.
using System.Net;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var upstream = new Uri(builder.Configuration["upstream"] ?? throw new InvalidOperationException("--upstream http://host:port is required."));
using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None });
var app = builder.Build();

app.Map("/{**path}", async (HttpContext context) =>
{
    var inbound = context.Request;
    using var request = new HttpRequestMessage(new HttpMethod(inbound.Method), new Uri(upstream, inbound.Path + inbound.QueryString));
    request.Content = new StreamContent(inbound.Body);
    request.Content.Headers.ContentLength = inbound.ContentLength;
    request.Content.Headers.TryAddWithoutValidation("Content-Type", (string?)inbound.ContentType);
    request.Headers.TryAddWithoutValidation("Authorization", (string?)inbound.Headers.Authorization);
    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
    context.Response.StatusCode = (int)response.StatusCode;
    context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
    await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
    byte[] buffer = new byte[16 * 1024];
    int read;
    while ((read = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
    {
        await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
});

app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"naive proxy listening on {string.Join(", ", app.Urls)}"));
app.Run();
