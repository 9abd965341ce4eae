using System.Globalization;
using System.Text.Json;
using Qlaud.Forwarding;
using Qlaud.Routing;

namespace Qlaud.Batches;

/// <summary>Checks a batch's requests before anything runs: the OpenAI JSONL input file, or a request list; every problem is
/// reported with its line (or position) so the caller can fix the input in one go.</summary>
internal static class BatchInput
{
    /// <summary>The most validation errors reported for one input.</summary>
    public const int MaxErrors = 100;

    /// <summary>Parses an OpenAI batch input file: one <c>{"custom_id","method":"POST","url","body"}</c> object per line.</summary>
    public static (List<BatchRequestInput> Requests, List<QlaudBatchError> Errors) ParseJsonl(ReadOnlySpan<byte> content, string endpoint, Router router, int maxRequests)
    {
        var requests = new List<BatchRequestInput>();
        var errors = new List<QlaudBatchError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int line = 0;
        while (!content.IsEmpty && errors.Count < MaxErrors)
        {
            line++;
            int end = content.IndexOf((byte)'\n');
            var text = end < 0 ? content : content[..end];
            content = end < 0 ? default : content[(end + 1)..];
            if (text.Length > 0 && text[^1] == (byte)'\r')
            {
                text = text[..^1];
            }

            if (text.Trim(" \t"u8).IsEmpty)
            {
                continue;
            }

            if (requests.Count + errors.Count >= maxRequests)
            {
                errors.Add(new QlaudBatchError("too_many_requests", $"A batch holds at most {maxRequests} requests (Qlaud:Batches:MaxRequestsPerBatch).", null, line));
                break;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text.ToArray());
            }
            catch (JsonException)
            {
                errors.Add(new QlaudBatchError("invalid_json_line", "This line is not valid JSON.", null, line));
                continue;
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    errors.Add(new QlaudBatchError("invalid_json_line", "This line is not a JSON object.", null, line));
                    continue;
                }

                if (!root.TryGetProperty("custom_id", out var customId) || customId.ValueKind != JsonValueKind.String || customId.GetString() is not { Length: > 0 } id)
                {
                    errors.Add(new QlaudBatchError("missing_custom_id", "'custom_id' must be a non-empty string.", "custom_id", line));
                    continue;
                }

                if (!seen.Add(id))
                {
                    errors.Add(new QlaudBatchError("duplicate_custom_id", $"The custom_id '{id}' appears more than once in the file.", "custom_id", line));
                    continue;
                }

                if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String || method.GetString() != "POST")
                {
                    errors.Add(new QlaudBatchError("invalid_method", "'method' must be \"POST\".", "method", line));
                    continue;
                }

                if (!root.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String || url.GetString() != endpoint)
                {
                    errors.Add(new QlaudBatchError("mismatched_url", $"'url' must be the batch's endpoint, \"{endpoint}\".", "url", line));
                    continue;
                }

                if (!root.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
                {
                    errors.Add(new QlaudBatchError("invalid_body", "'body' must be a JSON object.", "body", line));
                    continue;
                }

                byte[] bytes = System.Text.Encoding.UTF8.GetBytes(body.GetRawText());
                if (CheckBody(bytes, endpoint, router, line, "body") is { } invalid)
                {
                    errors.Add(invalid);
                    continue;
                }

                requests.Add(new BatchRequestInput(id, bytes));
            }
        }

        if (errors.Count == 0 && requests.Count == 0)
        {
            errors.Add(new QlaudBatchError("empty_file", "The input file holds no requests.", null, null));
        }

        return (requests, errors);
    }

    /// <summary>Checks a request list (the in-process API and the Anthropic surface); positions are reported from 1.</summary>
    public static List<QlaudBatchError> Check(IReadOnlyList<BatchRequestInput> requests, string endpoint, Router router, int maxRequests, string paramPrefix)
    {
        var errors = new List<QlaudBatchError>();
        if (requests.Count == 0)
        {
            errors.Add(new QlaudBatchError("empty_batch", "A batch needs at least one request.", paramPrefix, null));
            return errors;
        }

        if (requests.Count > maxRequests)
        {
            errors.Add(new QlaudBatchError("too_many_requests", $"A batch holds at most {maxRequests} requests (Qlaud:Batches:MaxRequestsPerBatch).", paramPrefix, null));
            return errors;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < requests.Count && errors.Count < MaxErrors; i++)
        {
            string param = string.Create(CultureInfo.InvariantCulture, $"{paramPrefix}.{i}");
            var request = requests[i];
            if (string.IsNullOrEmpty(request.CustomId) || request.CustomId.Length > 512)
            {
                errors.Add(new QlaudBatchError("missing_custom_id", "'custom_id' must be a non-empty string of at most 512 characters.", param + ".custom_id", i + 1));
            }
            else if (!seen.Add(request.CustomId))
            {
                errors.Add(new QlaudBatchError("duplicate_custom_id", $"The custom_id '{request.CustomId}' appears more than once.", param + ".custom_id", i + 1));
            }
            else if (CheckBody(request.Body.Span, endpoint, router, i + 1, param + ".params") is { } invalid)
            {
                errors.Add(invalid);
            }
        }

        return errors;
    }

    private static QlaudBatchError? CheckBody(ReadOnlySpan<byte> body, string endpoint, Router router, int line, string param)
    {
        if (InboundCheck.Check(body, endpoint == QlaudBatchEndpoint.Embeddings, out var info, out var routing) is { } invalid)
        {
            return new QlaudBatchError(invalid.Code ?? "invalid_request", invalid.Message, param, line);
        }

        if (info.Stream)
        {
            return new QlaudBatchError("invalid_request", "Batch requests cannot be streamed: leave out 'stream' or set it to false.", param + ".stream", line);
        }

        if (info.Model is { Length: > 0 } model && router.Resolve(model).Error is { } unknown)
        {
            return new QlaudBatchError(unknown.Code ?? "model_not_found", unknown.Message, param + ".model", line);
        }

        if (routing is { Models: { } models })
        {
            foreach (string fallback in models)
            {
                if (router.Resolve(fallback).Error is { } unknownFallback)
                {
                    return new QlaudBatchError(unknownFallback.Code ?? "model_not_found", unknownFallback.Message, param + ".models", line);
                }
            }
        }

        return null;
    }
}
