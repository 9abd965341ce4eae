using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary><c>github_get_file</c>: reads a file (or lists a directory) of a repository at a ref with the operator's GitHub token.</summary>
/// <remarks>API reference: https://docs.github.com/en/rest/repos/contents#get-repository-content
/// (<c>GET /repos/{owner}/{repo}/contents/{path}?ref=…</c>: a file is an object with <c>type: "file"</c>, <c>encoding: "base64"</c>,
/// <c>content</c>, <c>size</c>, <c>sha</c>; a directory is an array of entries; files over 1 MB come with <c>encoding: "none"</c>
/// and no content). The decoded text is cut at <see cref="GitHubGetFileOptions.MaxFileBytes"/>; binary files are refused.</remarks>
internal sealed class GitHubGetFileTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<GitHubGetFileOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<GitHubGetFileTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "github_get_file";

    private const int MaxEntries = 200;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "owner":{"type":"string","description":"The repository's owner (user or organization)."},
          "repo":{"type":"string","description":"The repository's name."},
          "path":{"type":"string","description":"The file's path in the repository, e.g. src/Program.cs (a directory's path lists it)."},
          "ref":{"type":"string","description":"Optional branch, tag or commit sha; the default branch when omitted."}},
         "required":["owner","repo","path"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Read a text file from a GitHub repository at a branch, tag or commit (with the operator's GitHub token); a directory's path lists its entries. Long files are cut and marked truncated.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable => options.CurrentValue.Enabled && GitHubApi.Token(options.CurrentValue, configuration) is not null;

    /// <inheritdoc/>
    /// <remarks>GitHub's REST API has no per-call price: 0 unless <c>PriceUsd</c> is set.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, 0);

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || GitHubApi.Token(settings, configuration) is not { } token)
        {
            return BuiltinToolResult.Error(ToolName + " is not configured on this gateway.");
        }

        string? owner = call.String("owner")?.Trim();
        string? repo = call.String("repo")?.Trim();
        if (!GitHubApi.IsName(owner) || !GitHubApi.IsName(repo))
        {
            return BuiltinToolResult.Error("Give \"owner\" and \"repo\": the repository's owner and name (letters, digits, '-', '_', '.').");
        }

        string? escapedPath = EscapePath(call.String("path"));
        if (escapedPath is null)
        {
            return BuiltinToolResult.Error("Give \"path\": a path in the repository such as src/Program.cs (no '.' or '..' segments).");
        }

        string? gitRef = call.String("ref")?.Trim();
        string url = $"repos/{owner}/{repo}/contents/{escapedPath}" + (string.IsNullOrEmpty(gitRef) ? "" : "?ref=" + Uri.EscapeDataString(gitRef));
        var api = new GitHubApi(httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName)), settings, token, timeProvider);
        var reply = await api.SendAsync(HttpMethod.Get, url, null, cancellationToken).ConfigureAwait(false);
        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            return api.Error(reply, $"file \"{call.String("path")}\" in {owner}/{repo}" + (string.IsNullOrEmpty(gitRef) ? "" : $" at \"{gitRef}\""));
        }

        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Array ? Directory(root) : File(root, Math.Max(1, settings.MaxFileBytes));
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("GitHub answered with something that is not JSON; try again later.");
        }
    }

    /// <summary>The path with each segment escaped, or null when it is empty or has <c>.</c>/<c>..</c> segments.</summary>
    private static string? EscapePath(string? path)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Length > 1000)
        {
            return null;
        }

        string[] segments = path.Trim().Trim('/').Split('/');
        var escaped = new StringBuilder();
        foreach (string segment in segments)
        {
            if (segment is "" or "." or "..")
            {
                return null;
            }

            if (escaped.Length > 0)
            {
                escaped.Append('/');
            }

            escaped.Append(Uri.EscapeDataString(segment));
        }

        return escaped.Length == 0 ? null : escaped.ToString();
    }

    private static BuiltinToolResult File(JsonElement file, int maxBytes)
    {
        string? type = Text(file, "type");
        long size = file.TryGetProperty("size", out var s) && s.TryGetInt64(out long n) ? n : 0;
        if (type != "file")
        {
            return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteOptional("type", type);
                writer.WriteOptional("path", Text(file, "path"));
                writer.WriteOptional("target", Text(file, "target"));
                writer.WriteOptional("submodule_git_url", Text(file, "submodule_git_url"));
                writer.WriteEndObject();
            }));
        }

        if (Text(file, "encoding") != "base64" || Text(file, "content") is not { } encoded)
        {
            return BuiltinToolResult.Error($"The file is {size} bytes; GitHub's contents API gives the content of files up to 1 MB only. Search for the part you need with github_search_code.");
        }

        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(encoded.Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal));
        }
        catch (FormatException)
        {
            return BuiltinToolResult.Error("GitHub sent content that is not valid base64; try again later.");
        }

        int length = bytes.Length;
        bool truncated = length > maxBytes;
        if (truncated)
        {
            length = maxBytes;
            while (length > 0 && (bytes[length] & 0xC0) == 0x80)
            {
                length--; // do not cut a UTF-8 sequence
            }
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return BuiltinToolResult.Error($"\"{Text(file, "path")}\" is a binary file ({size} bytes), not text.");
        }

        if (text.Contains('\0', StringComparison.Ordinal))
        {
            return BuiltinToolResult.Error($"\"{Text(file, "path")}\" is a binary file ({size} bytes), not text.");
        }

        return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("type", "file");
            writer.WriteOptional("path", Text(file, "path"));
            writer.WriteOptional("sha", Text(file, "sha"));
            writer.WriteNumber("size", size);
            writer.WriteOptional("html_url", Text(file, "html_url"));
            writer.WriteBoolean("truncated", truncated);
            writer.WriteString("content", text);
            writer.WriteEndObject();
        }));
    }

    private static BuiltinToolResult Directory(JsonElement entries) => BuiltinToolResult.Ok(VendorHttp.Json(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "dir");
        writer.WriteNumber("count", entries.GetArrayLength());
        writer.WriteStartArray("entries");
        int written = 0;
        foreach (var entry in entries.EnumerateArray())
        {
            if (written++ == MaxEntries)
            {
                break;
            }

            writer.WriteStartObject();
            writer.WriteOptional("name", Text(entry, "name"));
            writer.WriteOptional("path", Text(entry, "path"));
            writer.WriteOptional("type", Text(entry, "type"));
            if (entry.TryGetProperty("size", out var size) && size.TryGetInt64(out long n))
            {
                writer.WriteNumber("size", n);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }));

    private static string? Text(JsonElement element, string name) => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
