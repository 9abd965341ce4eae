using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Security;

namespace Qlaud.AspNetCore.Tests.Authentication;

/// <summary>The Qlaud key scheme over real HTTP: error envelopes, claims, the failed-authentication limit, and composing with an
/// app's own authentication.</summary>
public sealed class QlaudKeyAuthenticationHandlerTests
{
    private const string AppScheme = "AppHeader";

    [Fact]
    public async Task Messages_NoKey_Answers401InAnthropicShapeNamingTheRequest()
    {
        await using var gateway = await GatewayHost.StartAsync();
        using var http = gateway.Http(key: null);

        using var response = await http.PostAsync("/v1/messages", new StringContent("""{"model":"fake-claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("authentication_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("req_", Assert.Single(response.Headers.GetValues("x-qlaud-request-id")), StringComparison.Ordinal);
        Assert.Empty(gateway.Fake.Requests);
    }

    [Fact]
    public async Task Models_AnthropicVersionAndWrongKey_Answers401InAnthropicShape()
    {
        await using var gateway = await GatewayHost.StartAsync();
        using var http = gateway.Http("qlk_live_NotAKeyOfThisGateway000000000000000000");
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");

        using var response = await http.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("authentication_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task FailedAuthentications_OverTheLimit_Answer429WithRetryAfterButKnownKeysPass()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Limits:FailedAuthPerMinute"] = "3" });
        var (_, userSecret) = await gateway.MintKeyAsync();

        for (int i = 0; i < 3; i++)
        {
            using var wrong = gateway.Http(KeyAuthenticator.Generate());
            Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/v1/models")).StatusCode);
        }

        using var fourth = gateway.Http(KeyAuthenticator.Generate());
        using var limited = await fourth.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        int retryAfter = int.Parse(Assert.Single(limited.Headers.GetValues("retry-after")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        using (var body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()))
        {
            Assert.Equal("too_many_failed_authentications", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        using var master = gateway.Http();
        using var user = gateway.Http(userSecret);
        Assert.Equal(HttpStatusCode.OK, (await master.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task MapQlaud_WithTheAppsOwnPolicy_NeedsBothAndKeepsTheAppsDefaultScheme()
    {
        await using var gateway = await GatewayHost.StartAsync(
            services: static services =>
            {
                services.AddAuthentication(AppScheme).AddScheme<AuthenticationSchemeOptions, AppHeaderHandler>(AppScheme, null);
                services.AddAuthorization(static o => o.AddPolicy("app", static p => p.AddAuthenticationSchemes(AppScheme).RequireClaim("app_user")));
            },
            map: static app =>
            {
                app.MapQlaud().RequireAuthorization("app");
                app.MapGet("/whoami", static (ClaimsPrincipal user) => string.Join(",",
                    user.FindFirstValue(QlaudClaimTypes.AccountId), user.FindFirstValue(QlaudClaimTypes.KeyId),
                    user.FindFirstValue(QlaudClaimTypes.Scope), user.FindFirstValue(QlaudClaimTypes.EndUserId)))
                    .RequireAuthorization(QlaudAuthorizationPolicies.AnyKey);
            });
        using var keyOnly = gateway.Http();
        using var both = gateway.Http();
        both.DefaultRequestHeaders.Add("x-app-user", "carol");
        var (_, minted) = await both.PostJsonAsync("/v1/keys", """{"end_user_id":"alice"}""");
        string keyId = minted.GetProperty("id").GetString()!, secret = minted.GetProperty("secret").GetString()!;
        using var appOnly = gateway.Http(key: null);
        appOnly.DefaultRequestHeaders.Add("x-app-user", "carol");
        using var user = gateway.Http(secret);

        Assert.Equal(HttpStatusCode.Forbidden, (await keyOnly.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await appOnly.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await both.GetAsync("/v1/models")).StatusCode);
        Assert.Equal($"default,{keyId},standard,alice", await user.GetStringAsync("/whoami"));
        var schemes = gateway.Services.GetRequiredService<IAuthenticationSchemeProvider>();
        Assert.Equal(AppScheme, (await schemes.GetDefaultAuthenticateSchemeAsync())!.Name);
    }

    [Fact]
    public async Task MapQlaud_AppWithoutItsOwnAuthentication_HasNoDefaultSchemeButTheQlaudOne()
    {
        await using var gateway = await GatewayHost.StartAsync();

        var schemes = gateway.Services.GetRequiredService<IAuthenticationSchemeProvider>();

        Assert.NotNull(await schemes.GetSchemeAsync(QlaudAuthenticationDefaults.AuthenticationScheme));
        Assert.Null(gateway.Services.GetRequiredService<IOptions<AuthenticationOptions>>().Value.DefaultScheme);
    }

    /// <summary>An app's own scheme: the user named by <c>x-app-user</c>.</summary>
    private sealed class AppHeaderHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
            => Task.FromResult(Request.Headers["x-app-user"].ToString() is { Length: > 0 } name
                ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim("app_user", name)], AppScheme)), AppScheme))
                : AuthenticateResult.NoResult());
    }
}
