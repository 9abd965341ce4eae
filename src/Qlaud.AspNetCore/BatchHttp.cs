using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Threads;

namespace Qlaud.AspNetCore;

/// <summary>Shared pieces of the file and batch endpoints: ids, pages, JSON bodies.</summary>
internal static class BatchHttp
{
    public static string Id(HttpContext context) => context.Request.RouteValues["id"] as string ?? "";

    /// <summary>Reads <c>limit</c> and <c>after</c> (and Anthropic's <c>after_id</c>/<c>before_id</c>).</summary>
    public static PageOptions ReadPage(IQueryCollection query, int defaultLimit = 20, int maxLimit = PageOptions.MaxLimit)
    {
        int limit = defaultLimit;
        if (query.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > maxLimit))
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, $"'limit' must be a whole number from 1 to {maxLimit}."));
        }

        var order = query["order"].ToString() switch
        {
            "" or "desc" => ListOrder.Descending,
            "asc" => ListOrder.Ascending,
            _ => throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, "'order' must be \"asc\" or \"desc\".")),
        };
        return new PageOptions
        {
            Limit = limit,
            Order = order,
            After = NonEmpty(query["after"]) ?? NonEmpty(query["after_id"]),
            Before = NonEmpty(query["before_id"]),
        };
    }

    /// <summary>Reads a JSON object body of at most <paramref name="maxBytes"/>.</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpContext context, int maxBytes, string? limitKey)
    {
        var (body, error) = await QlaudHttp.ReadBodyAsync(context.Request, maxBytes, context.RequestAborted, limitKey).ConfigureAwait(false);
        if (error is not null)
        {
            throw new QlaudException(error);
        }

        using (body)
        {
            try
            {
                var document = JsonDocument.Parse(body!.WrittenMemory);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    return document;
                }

                document.Dispose();
            }
            catch (JsonException)
            {
                // Answered below.
            }
        }

        throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, "The request body must be a JSON object."));
    }

    /// <summary>A <c>metadata</c> object of strings; null for null or absent.</summary>
    public static Dictionary<string, string>? Metadata(JsonElement root)
    {
        if (!root.TryGetProperty("metadata", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, "'metadata' must be an object of string values."));
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in value.EnumerateObject())
        {
            metadata[pair.Name] = pair.Value.ValueKind == JsonValueKind.String
                ? pair.Value.GetString()!
                : throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, "'metadata' must be an object of string values."));
        }

        return metadata;
    }

    private static string? NonEmpty(Microsoft.Extensions.Primitives.StringValues value) => value.ToString() is { Length: > 0 } text ? text : null;
}
