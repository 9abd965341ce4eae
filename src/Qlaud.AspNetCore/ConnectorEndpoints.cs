using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Connectors;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>GET /v1/connectors</c>, <c>POST</c>/<c>GET /v1/connections</c> and <c>DELETE /v1/connections/{id}</c>;
/// they call <see cref="IQlaudConnectors"/>. Errors in the OpenAI envelope, like the account endpoints.</summary>
internal sealed class ConnectorEndpoints(IQlaudConnectors connectors)
{
    public Task ListConnectorsAsync(HttpContext context) => RunAsync(context, async (caller, ct) =>
    {
        var list = await connectors.ListConnectorsAsync(caller, Query(context, "end_user_id"), ct).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, list) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var status in list)
            {
                WriteConnector(w, status);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", false);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task CreateConnectionAsync(HttpContext context) => RunAsync(context, async (caller, ct) =>
    {
        using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        string? connector = null, endUser = null;
        foreach (var property in body.RootElement.EnumerateObject())
        {
            switch (property.Name)
            {
                case "connector" when property.Value.ValueKind == JsonValueKind.String:
                    connector = property.Value.GetString();
                    break;
                case "end_user_id" when property.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null:
                    endUser = property.Value.GetString();
                    break;
                case "connector" or "end_user_id":
                    throw Invalid($"'{property.Name}' must be a string.");
                default:
                    throw Invalid($"'{property.Name}' is not a connection field. Fields: connector, end_user_id.");
            }
        }

        if (string.IsNullOrEmpty(connector))
        {
            throw Invalid("'connector' is required: a connector id from GET /v1/connectors.");
        }

        var link = await connectors.CreateConnectLinkAsync(caller, connector, endUser, BaseUri(context), ct).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status201Created, link, static (w, link) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "connection.link");
            w.WriteString("connection_id", link.ConnectionId);
            w.WriteString("connector", link.ConnectorId);
            WriteNullable(w, "end_user_id", link.EndUserId);
            w.WriteString("connect_url", link.Url.AbsoluteUri);
            AdminHttp.WriteTime(w, "expires_at", link.ExpiresAtMs);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task ListConnectionsAsync(HttpContext context) => RunAsync(context, async (caller, ct) =>
    {
        var list = await connectors.ListConnectionsAsync(caller, Query(context, "end_user_id"), ct).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, list) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var connection in list)
            {
                WriteConnection(w, connection);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", false);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task DeleteConnectionAsync(HttpContext context) => RunAsync(context, async (caller, ct) =>
    {
        string id = context.Request.RouteValues["id"] as string ?? "";
        if (!await connectors.DeleteConnectionAsync(caller, id, ct).ConfigureAwait(false))
        {
            await AdminHttp.NotFoundAsync(context, $"No connection '{id}'.").ConfigureAwait(false);
            return;
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, id, static (w, id) =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "connection.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    /// <summary>The gateway's base URL as the client reached it (for connect links when <c>Qlaud:Connectors:PublicBaseUrl</c> is unset).</summary>
    internal static Uri BaseUri(HttpContext context)
    {
        var request = context.Request;
        return new Uri($"{request.Scheme}://{request.Host.Value}{request.PathBase.Value}/");
    }

    internal static void WriteConnector(Utf8JsonWriter w, ConnectorStatus status)
    {
        var c = status.Connector;
        w.WriteStartObject();
        w.WriteString("id", c.Id);
        w.WriteString("object", "connector");
        w.WriteString("name", c.Name);
        w.WriteString("description", c.Description);
        w.WriteStartArray("categories");
        foreach (var category in c.Categories)
        {
            w.WriteStringValue(category);
        }

        w.WriteEndArray();
        w.WriteString("transport", c.TransportName);
        WriteNullable(w, "url", c.Url?.AbsoluteUri);
        w.WriteString("auth_type", c.Auth.KindName);
        WriteNullable(w, "documentation", c.Documentation);
        WriteNullable(w, "source", c.Source);
        w.WriteString("status", c.Auth.Kind == ConnectorAuthKind.None ? "no_auth_required"
            : status.Connection?.Status switch
            {
                ConnectionStatus.Active => "connected",
                null or ConnectionStatus.Revoked => "not_connected",
                { } other => other,
            });
        if (status.Connection is { } connection)
        {
            w.WritePropertyName("connection");
            WriteConnection(w, connection);
        }
        else
        {
            w.WriteNull("connection");
        }

        w.WriteEndObject();
    }

    internal static void WriteConnection(Utf8JsonWriter w, QlaudConnection c)
    {
        w.WriteStartObject();
        w.WriteString("id", c.Id);
        w.WriteString("object", "connection");
        w.WriteString("connector", c.ConnectorId);
        WriteNullable(w, "end_user_id", c.EndUserId);
        w.WriteString("status", c.Status);
        WriteNullable(w, "error", c.Error);
        AdminHttp.WriteTime(w, "created_at", c.CreatedAtMs);
        AdminHttp.WriteTime(w, "updated_at", c.UpdatedAtMs);
        AdminHttp.WriteTime(w, "last_used_at", c.LastUsedAtMs);
        w.WriteEndObject();
    }

    internal static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    internal static string? Query(HttpContext context, string name) => context.Request.Query[name].ToString() is { Length: > 0 } v ? v : null;

    internal static QlaudException Invalid(string message) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message));

    internal static async Task RunAsync(HttpContext context, Func<QlaudCaller, CancellationToken, Task> handler)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;
        try
        {
            await handler(caller, context.RequestAborted).ConfigureAwait(false);
        }
        catch (QlaudException ex)
        {
            await QlaudHttp.WriteErrorAsync(context, AdminHttp.Errors, ex.Error).ConfigureAwait(false);
        }
    }
}
