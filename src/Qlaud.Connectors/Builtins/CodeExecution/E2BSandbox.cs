using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>Runs Python in a fresh E2B sandbox per call: create it from the code-interpreter template, run the code through
/// the sandbox's code interpreter, kill the sandbox.</summary>
/// <remarks>
/// <para>The calls are those of E2B's REST API and of its code-interpreter SDKs: <c>POST {BaseUrl}/sandboxes</c> with
/// <c>X-API-Key</c> and <c>{templateID, timeout, secure, allow_internet_access}</c> (201 with <c>sandboxID</c>,
/// <c>envdAccessToken</c>, <c>trafficAccessToken</c>, <c>domain</c>); <c>POST https://49999-{sandboxID}.{domain}/execute</c> with
/// <c>{code}</c> and the headers <c>X-Access-Token</c>, <c>E2b-Sandbox-Id</c>, <c>E2b-Sandbox-Port</c> (and
/// <c>E2B-Traffic-Access-Token</c> when the sandbox has one), answered by a stream of JSON lines typed <c>stdout</c>,
/// <c>stderr</c>, <c>result</c>, <c>error</c>, <c>number_of_executions</c> and <c>end_of_execution</c>; and
/// <c>DELETE {BaseUrl}/sandboxes/{sandboxID}</c> (204) afterwards, also after a failure or a timeout, so the sandbox stops
/// billing at once. Its own <c>timeout</c> (the call's timeout plus 30 s) ends it on E2B's side should the kill not arrive.</para>
/// <para>The vendor key goes only to the API, never to the sandbox.</para>
/// </remarks>
internal sealed partial class E2BSandbox(CodeExecutionOptions options, string apiKey, IHttpClientFactory httpClientFactory, TimeProvider time, ILogger logger)
{
    /// <summary>E2B's published API base URL.</summary>
    public const string DefaultBaseUrl = "https://api.e2b.app";

    /// <summary>The port of the code interpreter in an E2B sandbox.</summary>
    public const int InterpreterPort = 49999;

    private const string DefaultDomain = "e2b.app";
    private static readonly TimeSpan SandboxGrace = TimeSpan.FromSeconds(30);

    private string ApiBase => (options.BaseUrl ?? DefaultBaseUrl).TrimEnd('/');

    private HttpClient Http => httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(CodeExecutionTool.ToolName));

    /// <summary>Runs <paramref name="code"/> with the wall-clock limit <paramref name="timeout"/> (sandbox start-up included).</summary>
    public async Task<BuiltinToolResult> RunAsync(string code, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        Sandbox sandbox;
        try
        {
            var created = await CreateAsync(timeout, linked.Token).ConfigureAwait(false);
            if (created.Error is { } error)
            {
                return BuiltinToolResult.Error(error);
            }

            sandbox = created.Sandbox!;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return BuiltinToolResult.Error($"E2B did not start a sandbox within the timeout of {Seconds(timeout)} s; the program did not run. Try again.");
        }
        catch (Exception ex) when (IsTransport(ex))
        {
            return BuiltinToolResult.Error("Could not reach E2B to start a sandbox: " + ex.Message);
        }

        try
        {
            return await ExecuteAsync(sandbox, code, timeout, linked.Token, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await KillAsync(sandbox.Id).ConfigureAwait(false);
        }
    }

    private async Task<(Sandbox? Sandbox, string? Error)> CreateAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var body = Json(writer =>
        {
            writer.WriteString("templateID", options.TemplateId);
            writer.WriteNumber("timeout", (int)Math.Ceiling((timeout + SandboxGrace).TotalSeconds));
            writer.WriteBoolean("secure", true);
            writer.WriteBoolean("allow_internet_access", options.AllowInternetAccess);
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, ApiBase + "/sandboxes") { Content = body };
        request.Headers.Add("X-API-Key", apiKey);
        using var response = await Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return (null, await VendorErrorAsync(response, "start a sandbox", cancellationToken).ConfigureAwait(false));
        }

        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false),
            default, cancellationToken).ConfigureAwait(false);
        var root = document.RootElement;
        string? id = Text(root, "sandboxID");
        if (id is null || !SandboxIdPattern().IsMatch(id))
        {
            return (null, "E2B started a sandbox but its answer had no usable sandboxID; the program did not run.");
        }

        return (new Sandbox(id, Text(root, "envdAccessToken"), Text(root, "trafficAccessToken"), Text(root, "domain")), null);
    }

    private async Task<BuiltinToolResult> ExecuteAsync(Sandbox sandbox, string code, TimeSpan timeout, CancellationToken deadline, CancellationToken cancellationToken)
    {
        string url = options.SandboxUrlTemplate.Replace("{sandboxID}", sandbox.Id, StringComparison.Ordinal)
            .Replace("{domain}", sandbox.Domain ?? DefaultDomain, StringComparison.Ordinal).TrimEnd('/') + "/execute";
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(writer => writer.WriteString("code", code)) };
        request.Headers.Add("E2b-Sandbox-Id", sandbox.Id);
        request.Headers.Add("E2b-Sandbox-Port", InterpreterPort.ToString(CultureInfo.InvariantCulture));
        if (sandbox.AccessToken is not null)
        {
            request.Headers.Add("X-Access-Token", sandbox.AccessToken);
        }

        if (sandbox.TrafficToken is not null)
        {
            request.Headers.Add("E2B-Traffic-Access-Token", sandbox.TrafficToken);
        }

        var capture = new OutputCapture(options.MaxOutputChars);
        string? result = null;
        string? errorName = null, errorValue = null;
        bool ended = false, unexpectedEnd = false;
        try
        {
            using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return BuiltinToolResult.Error(response.StatusCode == HttpStatusCode.BadGateway
                    ? "The E2B sandbox stopped before the program ran (502); the program did not run. Try again."
                    : await VendorErrorAsync(response, "run the program", deadline).ConfigureAwait(false));
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(deadline).ConfigureAwait(false));
            while (!ended && await reader.ReadLineAsync(deadline).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                using var message = JsonDocument.Parse(line);
                var root = message.RootElement;
                switch (Text(root, "type"))
                {
                    case "stdout":
                        capture.Stdout(Text(root, "text"));
                        break;
                    case "stderr":
                        capture.Stderr(Text(root, "text"));
                        break;
                    case "result" when root.TryGetProperty("is_main_result", out var main) && main.ValueKind == JsonValueKind.True:
                        result = Text(root, "text");
                        break;
                    case "error":
                        errorName = Text(root, "name") ?? "Error";
                        errorValue = Text(root, "value") ?? "";
                        capture.Stderr(AnsiEscape().Replace(Text(root, "traceback") ?? "", ""));
                        break;
                    case "end_of_execution":
                        ended = true;
                        break;
                    case "unexpected_end_of_execution":
                        ended = unexpectedEnd = true;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CodeRun(capture.StdoutText, capture.StderrText, null, TimedOut: true, capture.Truncated,
                $"The program ran longer than the wall-clock timeout of {Seconds(timeout)} s and was stopped.").ToResult();
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("E2B's code interpreter sent an answer that is not JSON lines; the program's outcome is unknown.");
        }
        catch (Exception ex) when (IsTransport(ex))
        {
            return BuiltinToolResult.Error("The connection to the E2B sandbox failed while the program ran: " + ex.Message);
        }

        string? failure = errorName is not null ? $"The program raised {errorName}: {errorValue}. See stderr for the traceback."
            : unexpectedEnd ? "The E2B sandbox's interpreter stopped unexpectedly (it may have run out of memory)."
            : !ended ? "The connection to the E2B sandbox ended before the program finished."
            : null;
        int? exitCode = failure is null ? 0 : 1;
        return new CodeRun(capture.StdoutText, capture.StderrText, exitCode, false, capture.Truncated, failure, result).ToResult();
    }

    private async Task KillAsync(string sandboxId)
    {
        // Not tied to the caller's cancellation: a sandbox left running bills until its own timeout.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(15), time);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, ApiBase + "/sandboxes/" + sandboxId);
            request.Headers.Add("X-API-Key", apiKey);
            using var response = await Http.SendAsync(request, cancel.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.NotFound)
            {
                Log.KillFailed(logger, sandboxId, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException || IsTransport(ex))
        {
            Log.KillFailed(logger, sandboxId, ex.GetType().Name);
        }
    }

    private async Task<string> VendorErrorAsync(HttpResponseMessage response, string step, CancellationToken cancellationToken)
    {
        string message = await VendorMessageAsync(response, cancellationToken).ConfigureAwait(false);
        int status = (int)response.StatusCode;
        return status switch
        {
            401 => $"The operator's E2B key was refused (401: {message}); code execution is unavailable until the operator fixes it.",
            403 => $"E2B refused to {step} (403: {message}).",
            429 => $"E2B is rate limiting the gateway (429: {message}); retry after {RetryAfter(response)} s.",
            >= 500 => $"E2B failed to {step} ({status.ToString(CultureInfo.InvariantCulture)}: {message}); try again later.",
            _ => $"E2B could not {step} ({status.ToString(CultureInfo.InvariantCulture)}: {message}).",
        };
    }

    private static async Task<string> VendorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(body);
            if (Text(document.RootElement, "message") is { Length: > 0 } message)
            {
                body = message;
            }
        }
        catch (JsonException)
        {
            // A plain-text body is the message itself.
        }

        body = body.Trim();
        return body.Length == 0 ? response.ReasonPhrase ?? "no message" : body.Length > 300 ? body[..300] : body;
    }

    private string RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? header = response.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - time.GetUtcNow() : null);
        return wait is { } w ? Math.Max(1, (int)Math.Ceiling(w.TotalSeconds)).ToString(CultureInfo.InvariantCulture) : "a few";
    }

    private static ByteArrayContent Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, CodeRun.WriterOptions))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static string? Text(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool IsTransport(Exception ex) => ex is HttpRequestException or IOException or Polly.ExecutionRejectedException;

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,128}$")]
    private static partial Regex SandboxIdPattern();

    [GeneratedRegex(@"\x1b\[[0-9;]*[A-Za-z]")]
    private static partial Regex AnsiEscape();

    private sealed record Sandbox(string Id, string? AccessToken, string? TrafficToken, string? Domain);

    private static partial class Log
    {
        [LoggerMessage(11, LogLevel.Warning, "Could not kill E2B sandbox {SandboxId} ({Reason}); it ends at its own timeout")]
        public static partial void KillFailed(ILogger logger, string sandboxId, string reason);
    }
}
