using System.Net;
using System.Text.RegularExpressions;

namespace Qlaud.Connectors.Tests.Infrastructure;

/// <summary>Completes a hosted connect page as a browser would: cookies kept, the form's hidden antiforgery field sent back.</summary>
internal sealed partial class ConnectBrowser : IDisposable
{
    private readonly HttpClient _http = new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>GETs the page: its status, HTML and the antiforgery field (null when the page has no form).</summary>
    public async Task<(HttpStatusCode Status, string Html, KeyValuePair<string, string>? Antiforgery)> OpenAsync(Uri url)
    {
        using var response = await _http.GetAsync(url);
        string html = await response.Content.ReadAsStringAsync();
        var match = HiddenField().Match(html);
        return (response.StatusCode, html, match.Success ? new(WebUtility.HtmlDecode(match.Groups[1].Value), WebUtility.HtmlDecode(match.Groups[2].Value)) : null);
    }

    /// <summary>POSTs the form with the key (and the antiforgery field unless it is left out).</summary>
    public async Task<(HttpStatusCode Status, string Html)> SubmitAsync(Uri url, string key, KeyValuePair<string, string>? antiforgery)
    {
        var fields = new List<KeyValuePair<string, string>> { new("api_key", key) };
        if (antiforgery is { } field)
        {
            fields.Add(field);
        }

        using var response = await _http.PostAsync(url, new FormUrlEncodedContent(fields));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Opens the page and submits the key with the page's own antiforgery field.</summary>
    public async Task<(HttpStatusCode Status, string Html)> ConnectAsync(Uri url, string key)
    {
        var (_, _, antiforgery) = await OpenAsync(url);
        Assert.NotNull(antiforgery);
        return await SubmitAsync(url, key, antiforgery);
    }

    /// <summary>Submits an OAuth connect page's "Continue" form and follows the redirects (authorization server, then the
    /// gateway's callback) as a browser would; the last page's status and HTML.</summary>
    public async Task<(HttpStatusCode Status, string Html)> SignInAsync(Uri url)
    {
        var (_, _, antiforgery) = await OpenAsync(url);
        Assert.NotNull(antiforgery);
        var response = await _http.PostAsync(url, new FormUrlEncodedContent([antiforgery.Value]));
        for (int hops = 0; hops < 5 && response.Headers.Location is { } location; hops++)
        {
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            response.Dispose();
            response = await _http.GetAsync(next);
        }

        using (response)
        {
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\">")]
    private static partial Regex HiddenField();
}
