using System.Text;
using MimeKit;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.BuiltinTestKit;

namespace Qlaud.Connectors.Tests.Builtins;

public sealed class SendEmailToolTests
{
    private const string Name = "send_email";
    private const string From = "Acme Support <support@acme.test>";

    private static Task<GatewayHost> StartResendAsync(FakeVendorServer resend, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:ApiKey"] = FakeResend.Key,
            [$"Qlaud:Builtins:{Name}:BaseUrl"] = resend.Url,
            [$"Qlaud:Builtins:{Name}:From"] = From,
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    private static Task<GatewayHost> StartSmtpAsync(FakeSmtpServer smtp, string password = "s3cret", Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:Backend"] = "smtp",
            [$"Qlaud:Builtins:{Name}:From"] = From,
            [$"Qlaud:Builtins:{Name}:Smtp:Host"] = "127.0.0.1",
            [$"Qlaud:Builtins:{Name}:Smtp:Port"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [$"Qlaud:Builtins:{Name}:Smtp:UserName"] = "mailer",
            [$"Qlaud:Builtins:{Name}:Smtp:Password"] = password,
            [$"Qlaud:Builtins:{Name}:Smtp:Security"] = "None",
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    [Fact]
    public async Task IsAvailable_NeedsFromAndTheBackendsKeyOrServer_PricedAtResendsListPrice()
    {
        await using (var noFrom = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["RESEND_API_KEY"] = FakeResend.Key }))
        {
            Assert.False(Tool(noFrom, Name).IsAvailable);
        }

        await using (var resend = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["RESEND_API_KEY"] = FakeResend.Key, [$"Qlaud:Builtins:{Name}:From"] = From }))
        {
            Assert.True(Tool(resend, Name).IsAvailable);
            Assert.Equal(400, Tool(resend, Name).PriceMicros); // $20 / 50,000 emails
        }

        await using (var smtpNoHost = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { [$"Qlaud:Builtins:{Name}:Backend"] = "smtp", [$"Qlaud:Builtins:{Name}:From"] = From }))
        {
            Assert.False(Tool(smtpNoHost, Name).IsAvailable);
        }

        await using (var smtp = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:Backend"] = "smtp",
            [$"Qlaud:Builtins:{Name}:From"] = From,
            [$"Qlaud:Builtins:{Name}:Smtp:Host"] = "mail.acme.test",
        }))
        {
            Assert.True(Tool(smtp, Name).IsAvailable);
            Assert.Equal(0, Tool(smtp, Name).PriceMicros);
        }

        await using var disabled = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["RESEND_API_KEY"] = FakeResend.Key,
            [$"Qlaud:Builtins:{Name}:From"] = From,
            [$"Qlaud:Builtins:{Name}:Enabled"] = "false",
            [$"Qlaud:Builtins:{Name}:PriceUsd"] = "0.001",
        });
        Assert.False(Tool(disabled, Name).IsAvailable);
        Assert.Equal(1000, Tool(disabled, Name).PriceMicros);
    }

    [Theory]
    [InlineData("Backend", "pigeon")]
    [InlineData("From", "not an address")]
    [InlineData("Smtp:Security", "maybe")]
    [InlineData("MaxRecipients", "500")]
    public async Task Start_BadSetting_FailsNamingTheKey(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(settings: new Dictionary<string, string?> { [$"Qlaud:Builtins:{Name}:{key}"] = value }));
        Assert.Contains($"Qlaud:Builtins:{Name}:{key}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resend_SendsTheDocumentedRequestWithAnIdempotencyKey_ReturnsTheId()
    {
        await using var resend = await FakeVendorServer.StartAsync(FakeResend.Behaviour);
        await using var gateway = await StartResendAsync(resend);

        var result = Json(await CallAsync(Tool(gateway, Name),
            """{"to":["ann@example.com"],"cc":["bob@example.com"],"subject":"Your order","text":"It shipped.","html":"<p>It shipped.</p>","reply_to":"orders@acme.test"}""",
            callId: "toolu_mail_1"));

        Assert.Equal("resend", result.GetProperty("backend").GetString());
        Assert.Equal(2, result.GetProperty("recipients").GetInt32());
        Assert.True(Guid.TryParse(result.GetProperty("id").GetString(), out _));
        var request = Assert.Single(resend.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/emails", request.RawTarget);
        Assert.Equal("Bearer " + FakeResend.Key, request.Header("Authorization"));
        Assert.Equal("application/json", request.Header("Content-Type"));
        Assert.Matches("^qlaud-send_email-[0-9a-f]{32}$", request.Header("Idempotency-Key"));
        Assert.Equal(
            """{"from":"Acme Support \u003Csupport@acme.test\u003E","to":["ann@example.com"],"subject":"Your order","html":"\u003Cp\u003EIt shipped.\u003C/p\u003E","text":"It shipped.","cc":["bob@example.com"],"reply_to":"orders@acme.test"}""",
            request.Body);
    }

    [Fact]
    public async Task Resend_RetriesAndReplaysReuseTheIdempotencyKey_OneEmail()
    {
        await using var resend = await FakeVendorServer.StartAsync(FakeResend.Behaviour);
        await using var gateway = await StartResendAsync(resend);
        var tool = Tool(gateway, Name);
        const string Args = """{"to":"ann@example.com","subject":"Hi","text":"Hello"}""";

        resend.Enqueue(FakeResend.Error(500, "application_error", "An unexpected error occurred."), FakeResend.Error(429, "rate_limit_exceeded", "Too many requests.", new Dictionary<string, string> { ["retry-after"] = "1" }));
        string first = Json(await CallAsync(tool, Args, callId: "toolu_hi")).GetProperty("id").GetString()!;
        Assert.Equal(3, resend.Requests.Count);
        Assert.Single(resend.Requests.Select(r => r.Header("Idempotency-Key")).Distinct());

        Assert.Equal(first, Json(await CallAsync(tool, Args, callId: "toolu_hi")).GetProperty("id").GetString());
        Assert.NotEqual(first, Json(await CallAsync(tool, Args, callId: "toolu_other")).GetProperty("id").GetString());

        // A reused call id with other arguments is another email, not a conflict (Resend answers 409 to a key reused with another body).
        var reused = await CallAsync(tool, """{"to":"ann@example.com","subject":"Hi again","text":"Hello"}""", callId: "toolu_hi");
        Assert.False(reused.IsError, reused.Text);
        Assert.NotEqual(first, Json(reused).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Resend_Errors_AreErrorResults_BadArgumentsNotSent()
    {
        await using var resend = await FakeVendorServer.StartAsync(FakeResend.Behaviour);
        await using var gateway = await StartResendAsync(resend, new() { [$"Qlaud:Builtins:{Name}:MaxRecipients"] = "2" });
        var tool = Tool(gateway, Name);
        const string Args = """{"to":["ann@example.com"],"subject":"Hi","text":"Hello"}""";

        var limit = new Dictionary<string, string> { ["retry-after"] = "1" };
        resend.Enqueue(FakeResend.Error(429, "rate_limit_exceeded", "Too many requests.", limit), FakeResend.Error(429, "rate_limit_exceeded", "Too many requests.", limit), FakeResend.Error(429, "rate_limit_exceeded", "Too many requests.", limit));
        Assert.Equal("Resend rate limited the call; retry after 1 s.", (await CallAsync(tool, Args)).Text);

        var quota = FakeResend.Error(429, "daily_quota_exceeded", "You have reached your daily email sending quota.");
        resend.Enqueue(quota, quota, quota);
        Assert.Equal("The operator's Resend sending quota is used up (daily_quota_exceeded); no email can be sent until it resets.", (await CallAsync(tool, Args, callId: "toolu_quota")).Text);

        int sent = resend.Requests.Count;
        Assert.Contains("not an email address", (await CallAsync(tool, """{"to":["ann at example"],"subject":"s","text":"t"}""")).Text, StringComparison.Ordinal);
        Assert.Equal("At most 2 recipients (to, cc and bcc together) per email.", (await CallAsync(tool, """{"to":["a@x.test","b@x.test"],"bcc":["c@x.test"],"subject":"s","text":"t"}""")).Text);
        Assert.True((await CallAsync(tool, """{"to":["a@x.test"],"text":"t"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"to":["a@x.test"],"subject":"s"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"to":[],"subject":"s","text":"t"}""")).IsError);
        Assert.Equal(sent, resend.Requests.Count);

        await using var unverified = await StartResendAsync(resend, new() { [$"Qlaud:Builtins:{Name}:From"] = "me@gmail.com" });
        Assert.Equal("Resend refused the request (HTTP 403): validation_error: The gmail.com domain is not verified. Please, add and verify your domain on https://resend.com/domains.",
            (await CallAsync(Tool(unverified, Name), Args)).Text);

        await using var wrongKey = await StartResendAsync(resend, new() { [$"Qlaud:Builtins:{Name}:ApiKey"] = "re_revoked" });
        Assert.Equal("The operator's Resend key was refused: validation_error: API key is invalid. This tool cannot be used until the operator fixes it.",
            (await CallAsync(Tool(wrongKey, Name), Args)).Text);
    }

    [Fact]
    public async Task Smtp_DeliversTheMessageWithTheEnvelopeAndLogin()
    {
        await using var smtp = FakeSmtpServer.Start("mailer", "s3cret");
        await using var gateway = await StartSmtpAsync(smtp);

        var result = Json(await CallAsync(Tool(gateway, Name),
            """{"to":["Ann <ann@example.com>"],"cc":["bob@example.com"],"bcc":["audit@acme.test"],"subject":"Grüße","text":"Line one\n.hidden dot\nLine three","reply_to":"orders@acme.test"}"""));

        Assert.Equal("smtp", result.GetProperty("backend").GetString());
        var message = Assert.Single(smtp.Messages);
        Assert.Equal("support@acme.test", message.MailFrom);
        Assert.Equal(["ann@example.com", "bob@example.com", "audit@acme.test"], message.Recipients);
        Assert.Equal("mailer", message.AuthenticatedUser);
        using var data = new MemoryStream(Encoding.UTF8.GetBytes(message.Data));
        var mime = await MimeMessage.LoadAsync(data);
        Assert.Equal(("Acme Support", "support@acme.test"), (mime.From.Mailboxes.Single().Name, mime.From.Mailboxes.Single().Address));
        Assert.Equal("\"Ann\" <ann@example.com>", mime.To.ToString());
        Assert.Equal("bob@example.com", mime.Cc.ToString());
        Assert.Empty(mime.Bcc);
        Assert.Equal("orders@acme.test", mime.ReplyTo.ToString());
        Assert.Equal("Grüße", mime.Subject);
        Assert.Equal("Line one\n.hidden dot\nLine three", mime.TextBody?.ReplaceLineEndings("\n").TrimEnd());
        Assert.Equal("<" + mime.MessageId + ">", "<" + result.GetProperty("id").GetString() + ">");
    }

    [Fact]
    public async Task Smtp_RefusedLoginRecipientUnreachableAndSlowServer_AreErrorResults()
    {
        await using var smtp = FakeSmtpServer.Start("mailer", "s3cret");
        const string Args = """{"to":["ann@example.com"],"subject":"s","text":"t"}""";

        await using (var wrongPassword = await StartSmtpAsync(smtp, password: "wrong"))
        {
            Assert.Equal("The operator's SMTP login was refused by the mail server. This tool cannot be used until the operator fixes it.", (await CallAsync(Tool(wrongPassword, Name), Args)).Text);
        }

        await using (var gateway = await StartSmtpAsync(smtp))
        {
            smtp.RejectRecipient = "ann@example.com";
            var refused = await CallAsync(Tool(gateway, Name), Args);
            Assert.StartsWith("The mail server refused the recipient ann@example.com (550 ", refused.Text, StringComparison.Ordinal);
            smtp.RejectRecipient = null;

            smtp.GreetingDelay = TimeSpan.FromSeconds(5);
            await using var quick = await StartSmtpAsync(smtp, more: new() { [$"Qlaud:Builtins:{Name}:TimeoutSeconds"] = "1" });
            Assert.Equal("The mail server did not answer within 1 s; try again later.", (await CallAsync(Tool(quick, Name), Args)).Text);
        }

        Assert.Empty(smtp.Messages);

        int closedPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var nowhere = await StartSmtpAsync(smtp, more: new() { [$"Qlaud:Builtins:{Name}:Smtp:Port"] = closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.StartsWith("The mail server could not be reached", (await CallAsync(Tool(nowhere, Name), Args)).Text, StringComparison.Ordinal);
    }
}
