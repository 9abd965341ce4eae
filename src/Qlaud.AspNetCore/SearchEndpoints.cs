using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Search;

namespace Qlaud.AspNetCore;

/// <summary>Handler for <c>GET /v1/search?q=…[&amp;limit=&amp;end_user_id=&amp;thread_id=&amp;after_ms=&amp;before_ms=&amp;mode=]</c>; it calls
/// <see cref="IQlaudSearch"/>.</summary>
/// <remarks>Policy <see cref="QlaudAuthorizationPolicies.AnyKey"/>: every key searches the messages of the threads it may see
/// (an end-user key its own end user's, whatever <c>end_user_id</c> says). Errors in the OpenAI envelope, like the account endpoints.</remarks>
internal sealed class SearchEndpoints(IQlaudSearch search)
{
    public async Task SearchAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;
        var query = context.Request.Query;
        SearchRequest request;
        try
        {
            request = new SearchRequest(query["q"].ToString())
            {
                Limit = query.TryGetValue("limit", out var limit) ? (int)Math.Clamp(Integer(limit, "limit"), -1, int.MaxValue) : 10,
                EndUserId = NullIfEmpty(query["end_user_id"]),
                ThreadId = NullIfEmpty(query["thread_id"]),
                AfterMs = query.TryGetValue("after_ms", out var after) ? Integer(after, "after_ms") : null,
                BeforeMs = query.TryGetValue("before_ms", out var before) ? Integer(before, "before_ms") : null,
                Mode = query["mode"].ToString() switch
                {
                    "" or "hybrid" => SearchMode.Hybrid,
                    "semantic" => SearchMode.Semantic,
                    "keyword" => SearchMode.Keyword,
                    _ => throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, "'mode' must be \"hybrid\", \"semantic\" or \"keyword\".")),
                },
            };
            var hits = await search.SearchAsync(caller, request, context.RequestAborted).ConfigureAwait(false);
            await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, hits, static (w, hits) =>
            {
                w.WriteStartObject();
                w.WriteString("object", "list");
                w.WriteStartArray("data");
                foreach (var hit in hits)
                {
                    w.WriteStartObject();
                    w.WriteString("object", "search.hit");
                    w.WriteString("thread_id", hit.ThreadId);
                    w.WriteString("message_id", hit.MessageId);
                    w.WriteString("role", hit.Role);
                    w.WriteString("snippet", hit.Snippet);
                    w.WriteNumber("score", hit.Score);
                    w.WriteNumber("created_ms", hit.CreatedAtMs);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }).ConfigureAwait(false);
        }
        catch (QlaudException ex)
        {
            await QlaudHttp.WriteErrorAsync(context, AdminHttp.Errors, ex.Error).ConfigureAwait(false);
        }
    }

    private static long Integer(StringValues value, string name)
        => long.TryParse(value.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number)
            ? number
            : throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, $"'{name}' must be a whole number."));

    private static string? NullIfEmpty(StringValues value) => value.ToString() is { Length: > 0 } text ? text : null;
}
