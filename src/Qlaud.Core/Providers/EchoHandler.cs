using System.Net;
using System.Text;
using System.Text.Json;

namespace Qlaud.Providers;

/// <summary>
/// The built-in offline provider behind <c>qlaud/echo</c>: answers OpenAI Chat Completions requests in-process by
/// echoing the last user message, streamed word by word when asked, with usage estimated at four characters a token.
/// </summary>
/// <remarks>It lets a fresh install with no provider keys and no network serve a real answer through the whole pipeline.</remarks>
internal sealed class EchoHandler : HttpMessageHandler
{
    private readonly TimeProvider _time;

    public EchoHandler(TimeProvider time) => _time = time;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        byte[] body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        string text;
        bool stream, includeUsage;
        string model;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            model = Catalog.CatalogBuilder.EchoModel; // clients asked for qlaud/echo; the route's upstream id is an internal detail
            stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
                && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
            text = LastUserText(root);
        }
        catch (JsonException)
        {
            return Error(HttpStatusCode.BadRequest, "The request body is not valid JSON.");
        }

        long promptTokens = (body.Length + 3) / 4;
        long completionTokens = Math.Max(1, (Encoding.UTF8.GetByteCount(text) + 3) / 4);
        string id = "chatcmpl-echo" + _time.GetUtcNow().ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        long created = _time.GetUtcNow().ToUnixTimeSeconds();
        var output = new MemoryStream();
        using (var writer = new Utf8JsonWriter(output))
        {
            if (!stream)
            {
                writer.WriteStartObject();
                Header(writer, id, "chat.completion", created, model);
                writer.WriteStartArray("choices");
                writer.WriteStartObject();
                writer.WriteNumber("index", 0);
                writer.WriteStartObject("message");
                writer.WriteString("role", "assistant");
                writer.WriteString("content", text);
                writer.WriteEndObject();
                writer.WriteString("finish_reason", "stop");
                writer.WriteEndObject();
                writer.WriteEndArray();
                Usage(writer, promptTokens, completionTokens);
                writer.WriteEndObject();
            }
        }

        if (stream)
        {
            WriteStream(output, text, id, created, model, includeUsage, promptTokens, completionTokens);
        }

        output.Position = 0;
        var content = new StreamContent(output);
        content.Headers.ContentType = new(stream ? "text/event-stream" : "application/json");
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content, RequestMessage = request };
    }

    private static void WriteStream(MemoryStream output, string text, string id, long created, string model, bool includeUsage, long promptTokens, long completionTokens)
    {
        var words = text.Split(' ');
        for (int i = 0; i <= words.Length; i++)
        {
            Chunk(output, id, created, model, includeUsage, writer =>
            {
                writer.WriteStartArray("choices");
                writer.WriteStartObject();
                writer.WriteNumber("index", 0);
                writer.WriteStartObject("delta");
                if (i == 0)
                {
                    writer.WriteString("role", "assistant");
                }

                if (i < words.Length)
                {
                    writer.WriteString("content", i == 0 ? words[i] : " " + words[i]);
                }

                writer.WriteEndObject();
                if (i == words.Length)
                {
                    writer.WriteString("finish_reason", "stop");
                }
                else
                {
                    writer.WriteNull("finish_reason");
                }

                writer.WriteEndObject();
                writer.WriteEndArray();
            });
        }

        if (includeUsage)
        {
            Chunk(output, id, created, model, includeUsage: false, writer =>
            {
                writer.WriteStartArray("choices");
                writer.WriteEndArray();
                Usage(writer, promptTokens, completionTokens);
            });
        }

        output.Write("data: [DONE]\n\n"u8);
    }

    private static void Chunk(MemoryStream output, string id, long created, string model, bool includeUsage, Action<Utf8JsonWriter> body)
    {
        output.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            Header(writer, id, "chat.completion.chunk", created, model);
            body(writer);
            if (includeUsage)
            {
                writer.WriteNull("usage");
            }

            writer.WriteEndObject();
        }

        output.Write("\n\n"u8);
    }

    private static void Header(Utf8JsonWriter writer, string id, string kind, long created, string model)
    {
        writer.WriteString("id", id);
        writer.WriteString("object", kind);
        writer.WriteNumber("created", created);
        writer.WriteString("model", model);
    }

    private static void Usage(Utf8JsonWriter writer, long prompt, long completion)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", prompt);
        writer.WriteNumber("completion_tokens", completion);
        writer.WriteNumber("total_tokens", prompt + completion);
        writer.WriteEndObject();
    }

    private static string LastUserText(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return "";
        }

        for (int i = messages.GetArrayLength() - 1; i >= 0; i--)
        {
            var message = messages[i];
            if (!message.TryGetProperty("role", out var role) || role.GetString() != "user" || !message.TryGetProperty("content", out var content))
            {
                continue;
            }

            if (content.ValueKind == JsonValueKind.String)
            {
                return content.GetString() ?? "";
            }

            if (content.ValueKind == JsonValueKind.Array)
            {
                var text = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.TryGetProperty("type", out var type) && type.GetString() == "text" && part.TryGetProperty("text", out var t))
                    {
                        text.Append(text.Length > 0 ? " " : "").Append(t.GetString());
                    }
                }

                return text.ToString();
            }
        }

        return "";
    }

    private static HttpResponseMessage Error(HttpStatusCode status, string message)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(message, Forwarding.ForwardingJsonContext.Default.String);
        var json = $"{{\"error\":{{\"message\":{Encoding.UTF8.GetString(body)},\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}}}";
        return new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    }
}
