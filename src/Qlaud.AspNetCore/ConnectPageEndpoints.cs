using System.Net;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Qlaud.Connectors;

namespace Qlaud.AspNetCore;

/// <summary>The hosted connect page, <c>GET</c>/<c>POST /connect/{token}</c>: plain HTML that works without JavaScript, protected
/// against cross-site posts by ASP.NET Core antiforgery. The one-time token in the URL authenticates the page, not a Qlaud key.</summary>
/// <remarks>For <c>api_key</c> and <c>bearer</c> connectors the form takes the key; Qlaud lists the server's tools with it before
/// storing it (encrypted), so a wrong key is shown on the page and nothing is stored. A used, expired or unknown link answers a
/// page saying so (410 or 404), never an error trace.</remarks>
internal sealed class ConnectPageEndpoints(QlaudConnectors connectors, IAntiforgery antiforgery)
{
    private const string KeyField = "api_key";

    public async Task GetAsync(HttpContext context)
    {
        var outcome = await connectors.OpenLinkAsync(Token(context), context.RequestAborted).ConfigureAwait(false);
        await RenderAsync(context, outcome).ConfigureAwait(false);
    }

    public async Task PostAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(context).ConfigureAwait(false))
        {
            await WritePageAsync(context, StatusCodes.Status400BadRequest, "This form has expired",
                "<p>The form was not sent from this page, or it is too old. Open the link again and submit the form from there. Nothing was stored.</p>").ConfigureAwait(false);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var opened = await connectors.OpenLinkAsync(Token(context), context.RequestAborted).ConfigureAwait(false);
        if (opened.State == ConnectLinkState.Ready && opened.Connector!.Auth.Kind == ConnectorAuthKind.OAuth)
        {
            var begun = await connectors.BeginOAuthAsync(Token(context), ConnectorEndpoints.BaseUri(context), context.RequestAborted).ConfigureAwait(false);
            if (begun.RedirectTo is { } authorize)
            {
                context.Response.Headers.CacheControl = "no-store";
                context.Response.Headers["Referrer-Policy"] = "no-referrer";
                context.Response.Redirect(authorize.AbsoluteUri);
                return;
            }

            await RenderAsync(context, begun).ConfigureAwait(false);
            return;
        }

        var outcome = await connectors.SubmitKeyAsync(Token(context), form[KeyField].ToString(), context.RequestAborted).ConfigureAwait(false);
        await RenderAsync(context, outcome).ConfigureAwait(false);
    }

    /// <summary>The OAuth callback (<c>GET /connect/callback?code=&amp;state=</c>): the authorization server sends the browser back here.</summary>
    public async Task CallbackAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var outcome = await connectors.CompleteOAuthAsync(query["state"].ToString(), query["code"].ToString(), query["error"].ToString(), context.RequestAborted)
            .ConfigureAwait(false);
        await RenderAsync(context, outcome).ConfigureAwait(false);
    }

    private Task RenderAsync(HttpContext context, ConnectLinkOutcome outcome)
    {
        string name = Html(outcome.Connector?.Name ?? "the service");
        return outcome.State switch
        {
            ConnectLinkState.Unknown => WritePageAsync(context, StatusCodes.Status404NotFound, "Link not found",
                "<p>This connect link does not exist. Ask the app for a new one.</p>"),
            ConnectLinkState.Expired => WritePageAsync(context, StatusCodes.Status410Gone, "Link expired",
                $"<p>This link to connect {name} has expired. Ask the app for a new one.</p>"),
            ConnectLinkState.Used => WritePageAsync(context, StatusCodes.Status410Gone, "Link already used",
                $"<p>This link to connect {name} was already used. Each link works once; ask the app for a new one if you need to connect again.</p>"),
            ConnectLinkState.Unavailable => WritePageAsync(context, StatusCodes.Status410Gone, "Connector unavailable",
                $"<p>{name} cannot be connected through this link. Ask the app for a new one.</p>"),
            ConnectLinkState.Connected => WritePageAsync(context, StatusCodes.Status200OK, $"{name} is connected",
                $"<p>Your {name} account is connected. You can close this page and go back to the app.</p>"),
            ConnectLinkState.Refused => WriteFormAsync(context, outcome, StatusCodes.Status400BadRequest, outcome.Message),
            _ => WriteFormAsync(context, outcome, StatusCodes.Status200OK, null),
        };
    }

    private Task WriteFormAsync(HttpContext context, ConnectLinkOutcome outcome, int status, string? error)
    {
        var connector = outcome.Connector!;
        var tokens = antiforgery.GetAndStoreTokens(context);
        string name = Html(connector.Name);
        var body = new StringBuilder();
        body.Append("<p>").Append(Html(connector.Description)).Append("</p>");
        if (error is not null)
        {
            body.Append("<p class=\"error\" role=\"alert\">").Append(Html(error)).Append("</p>");
        }

        if (connector.Auth.Kind == ConnectorAuthKind.OAuth)
        {
            body.Append("<form method=\"post\">")
                .Append("<input type=\"hidden\" name=\"").Append(Html(tokens.FormFieldName)).Append("\" value=\"").Append(Html(tokens.RequestToken!)).Append("\">")
                .Append("<button type=\"submit\">Continue to ").Append(name).Append("</button></form>")
                .Append("<p class=\"note\">You sign in at ").Append(name).Append(" and approve access; your password never passes through this page.</p>");
            return WritePageAsync(context, status, $"Connect {name}", body.ToString());
        }

        body.Append("<form method=\"post\" autocomplete=\"off\">")
            .Append("<input type=\"hidden\" name=\"").Append(Html(tokens.FormFieldName)).Append("\" value=\"").Append(Html(tokens.RequestToken!)).Append("\">")
            .Append("<label for=\"key\">").Append(connector.Auth.Kind == ConnectorAuthKind.Bearer ? "Access token" : "API key").Append("</label>")
            .Append("<input id=\"key\" name=\"").Append(KeyField).Append("\" type=\"password\" required maxlength=\"8192\" autofocus>")
            .Append("<button type=\"submit\">Connect</button></form>");
        if (connector.Documentation is { } docs && Uri.TryCreate(docs, UriKind.Absolute, out var link) && link.Scheme == "https")
        {
            body.Append("<p class=\"note\">Where to find it: <a href=\"").Append(Html(link.AbsoluteUri)).Append("\" rel=\"noopener noreferrer\">")
                .Append(name).Append(" documentation</a>.</p>");
        }

        body.Append("<p class=\"note\">The key is checked with ").Append(name).Append(" and stored encrypted; it is never shown to the app or the AI model.</p>");
        return WritePageAsync(context, status, $"Connect {name}", body.ToString());
    }

    private static async Task WritePageAsync(HttpContext context, int status, string title, string body)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/html; charset=utf-8";
        var headers = response.Headers;
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer"; // the link's token is in the URL
        headers["X-Frame-Options"] = "DENY";
        headers["X-Content-Type-Options"] = "nosniff";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        string page = $$"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}}</title>
            <style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
            label{display:block;font-weight:600;margin:1rem 0 .25rem}input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
            button{margin-top:1rem;padding:.5rem 1.25rem;font-size:1rem}.error{color:#a40000;font-weight:600}.note{color:#555;font-size:.9rem}</style>
            </head><body><h1>{{title}}</h1>{{body}}</body></html>
            """;
        var bytes = Encoding.UTF8.GetBytes(page);
        response.ContentLength = bytes.Length;
        await response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    private static string Token(HttpContext context) => context.Request.RouteValues["token"] as string ?? "";

    private static string Html(string text) => WebUtility.HtmlEncode(text);
}
