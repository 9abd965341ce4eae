// YARP as a minimal forwarder: every request goes to --upstream with YARP's default request and response transforms.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
string upstream = builder.Configuration["upstream"] ?? throw new InvalidOperationException("--upstream http://host:port is required.");
builder.Services.AddHttpForwarder();
var app = builder.Build();
app.MapForwarder("/{**path}", upstream);
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"YARP proxy listening on {string.Join(", ", app.Urls)}"));
app.Run();
