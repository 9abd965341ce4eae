using System.Buffers;
using System.Text.Json;
using Qlaud.Storage;

namespace Qlaud.Batches;

/// <summary>Renders results as the two APIs' JSONL lines: OpenAI's output and error files, Anthropic's results stream.</summary>
internal static class BatchResultLines
{
    /// <summary>An OpenAI batch output (or error) file line: <c>{"id","custom_id","response":{"status_code","request_id","body"},"error"}</c>;
    /// a canceled or expired request has <c>response: null</c> and an <c>error</c> object.</summary>
    public static void WriteOpenAI(IBufferWriter<byte> output, BatchRequestEntity request)
    {
        using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            w.WriteString("id", "batch_req_" + (request.RequestId ?? request.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            w.WriteString("custom_id", request.CustomId);
            var state = Enum.Parse<BatchRequestState>(request.State);
            if (state is BatchRequestState.Succeeded or BatchRequestState.Errored && request.ResponseBody is { } body)
            {
                w.WriteStartObject("response");
                w.WriteNumber("status_code", request.StatusCode ?? 500);
                w.WriteString("request_id", request.RequestId);
                w.WritePropertyName("body");
                w.WriteRawValue(body, skipInputValidation: true);
                w.WriteEndObject();
                w.WriteNull("error");
            }
            else
            {
                w.WriteNull("response");
                w.WriteStartObject("error");
                w.WriteString("code", state == BatchRequestState.Expired ? "batch_expired" : "batch_cancelled");
                w.WriteString("message", state == BatchRequestState.Expired
                    ? "This request could not be executed before the completion window expired."
                    : "This request was not executed because the batch was cancelled.");
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        output.Write("\n"u8);
    }

    /// <summary>An Anthropic results line: <c>{"custom_id","result":{"type":"succeeded","message"}}</c>, <c>errored</c> with the
    /// error envelope, or <c>canceled</c> / <c>expired</c>.</summary>
    public static void WriteAnthropic(IBufferWriter<byte> output, QlaudBatchResult result)
    {
        using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            w.WriteString("custom_id", result.CustomId);
            w.WriteStartObject("result");
            switch (result.State)
            {
                case BatchRequestState.Succeeded:
                    w.WriteString("type", "succeeded");
                    w.WritePropertyName("message");
                    w.WriteRawValue(result.Body!.Value.Span, skipInputValidation: true);
                    break;
                case BatchRequestState.Errored:
                    w.WriteString("type", "errored");
                    w.WritePropertyName("error");
                    w.WriteRawValue(result.Body!.Value.Span, skipInputValidation: true);
                    break;
                case BatchRequestState.Canceled:
                    w.WriteString("type", "canceled");
                    break;
                default:
                    w.WriteString("type", "expired");
                    break;
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        output.Write("\n"u8);
    }
}
