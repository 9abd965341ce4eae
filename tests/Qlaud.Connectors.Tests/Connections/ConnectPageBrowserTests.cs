using System.Net;
using Microsoft.Playwright;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;

namespace Qlaud.Connectors.Tests.Connections;

/// <summary>
/// The hosted connect page in a real browser: headless Chromium (the machine's Debian <c>chromium</c>, driven by Playwright)
/// opens an end user's connect link, types a wrong key, sees the error on the page, types the right one and sees the
/// connector connected. With <c>QLAUD_WRITE_SCREENSHOTS=1</c> the form's screenshot is written to <c>docs/connect-page.png</c>.
/// </summary>
public sealed class ConnectPageBrowserTests : IAsyncLifetime
{
    private const string AliceKey = "lin_api_alice_0123456789";

    private FakeMcpServer _linear = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _linear = await FakeMcpServer.StartAsync("Linear", AliceKey);
        _gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(_linear));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _linear.DisposeAsync();
    }

    [Fact]
    public async Task ConnectPage_InChromium_WrongKeyShownOnThePageThenTheRightKeyConnects()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (created, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        Assert.Equal(HttpStatusCode.Created, created);
        string url = link.GetProperty("connect_url").GetString()!;

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath(),
            Headless = true,
            Args = ["--no-sandbox"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 720, Height = 480 } });

        var opened = await page.GotoAsync(url);
        Assert.Equal(200, opened!.Status);
        Assert.Equal("Connect Linear", await page.TextContentAsync("h1"));
        if (Environment.GetEnvironmentVariable("QLAUD_WRITE_SCREENSHOTS") == "1")
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(RepositoryRoot(), "docs", "connect-page.png") });
        }

        await page.FillAsync("#key", "lin_api_wrong");
        var refused = await SubmitAsync(page);
        Assert.Equal(400, refused!.Status);
        Assert.Contains("did not accept this key", await page.ContentAsync(), StringComparison.Ordinal);

        await page.FillAsync("#key", AliceKey);
        var connected = await SubmitAsync(page);
        Assert.Equal(200, connected!.Status);
        Assert.Contains("Linear is connected", await page.ContentAsync(), StringComparison.Ordinal);

        var (_, after) = await http.GetJsonAsync("/v1/connectors");
        var linear = after.GetProperty("data").EnumerateArray().Single(static c => c.GetProperty("id").GetString() == "linear");
        Assert.Equal("connected", linear.GetProperty("status").GetString());
    }

    /// <summary>Clicks the form's button as a user would and waits for the page the post answers with.</summary>
    private static async Task<IResponse> SubmitAsync(IPage page)
    {
        var response = await page.RunAndWaitForResponseAsync(() => page.ClickAsync("button[type=submit]"), static r => r.Request.Method == "POST");
        await page.WaitForLoadStateAsync(LoadState.DOMContentLoaded);
        return response;
    }

    /// <summary>Debian's chromium (<c>apt-get install chromium</c>; <c>tests/run-all.sh</c> installs it when missing).</summary>
    private static string ChromiumPath()
    {
        foreach (string candidate in (string[])["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("Chromium is not installed: the connect-page browser test needs Debian's chromium (apt-get install chromium).");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qlaud.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Qlaud.sln not found above " + AppContext.BaseDirectory);
    }
}
