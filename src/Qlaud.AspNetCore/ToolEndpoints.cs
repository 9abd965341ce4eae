using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Connectors;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>GET/POST /v1/tools</c> and <c>GET/DELETE /v1/tools/{id}</c>; they call <see cref="IQlaudTools"/>.
/// Errors in the OpenAI envelope, like the connector endpoints.</summary>
internal sealed class ToolEndpoints(IQlaudTools tools)
{
    public Task ListAsync(HttpContext context) => ConnectorEndpoints.RunAsync(context, async (caller, ct) =>
    {
        var list = await tools.ListToolsAsync(caller, ConnectorEndpoints.Query(context, "end_user_id"), ct).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, list) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var tool in list)
            {
                WriteTool(w, tool);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", false);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task GetAsync(HttpContext context) => ConnectorEndpoints.RunAsync(context, async (caller, ct) =>
    {
        string id = context.Request.RouteValues["id"] as string ?? "";
        if (await tools.GetToolAsync(caller, id, ct).ConfigureAwait(false) is not { } tool)
        {
            await AdminHttp.NotFoundAsync(context, $"No tool '{id}'.").ConfigureAwait(false);
            return;
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, tool, WriteTool).ConfigureAwait(false);
    });

    public Task CreateAsync(HttpContext context) => ConnectorEndpoints.RunAsync(context, async (caller, ct) =>
    {
        using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        string? name = null, description = null, url = null, endUser = null;
        JsonElement schema = default;
        foreach (var property in body.RootElement.EnumerateObject())
        {
            switch (property.Name)
            {
                case "name" when property.Value.ValueKind == JsonValueKind.String:
                    name = property.Value.GetString();
                    break;
                case "description" when property.Value.ValueKind == JsonValueKind.String:
                    description = property.Value.GetString();
                    break;
                case "url" when property.Value.ValueKind == JsonValueKind.String:
                    url = property.Value.GetString();
                    break;
                case "end_user_id" when property.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null:
                    endUser = property.Value.GetString();
                    break;
                case "input_schema" when property.Value.ValueKind == JsonValueKind.Object:
                    schema = property.Value.Clone();
                    break;
                case "input_schema":
                    throw ConnectorEndpoints.Invalid("'input_schema' must be a JSON schema object.");
                case "name" or "description" or "url" or "end_user_id":
                    throw ConnectorEndpoints.Invalid($"'{property.Name}' must be a string.");
                default:
                    throw ConnectorEndpoints.Invalid($"'{property.Name}' is not a tool field. Fields: name, description, input_schema, url, end_user_id.");
            }
        }

        if (name is null || description is null || url is null || schema.ValueKind == JsonValueKind.Undefined)
        {
            throw ConnectorEndpoints.Invalid("'name', 'description', 'input_schema' and 'url' are required.");
        }

        var created = await tools.CreateWebhookToolAsync(caller, new NewWebhookTool { Name = name, Description = description, InputSchema = schema, Url = url, EndUserId = endUser }, ct)
            .ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status201Created, created, static (w, created) => WriteTool(w, created.Tool, created.SigningSecret)).ConfigureAwait(false);
    });

    public Task DeleteAsync(HttpContext context) => ConnectorEndpoints.RunAsync(context, async (caller, ct) =>
    {
        string id = context.Request.RouteValues["id"] as string ?? "";
        if (!await tools.DeleteWebhookToolAsync(caller, id, ct).ConfigureAwait(false))
        {
            await AdminHttp.NotFoundAsync(context, $"No webhook tool '{id}'.").ConfigureAwait(false);
            return;
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, id, static (w, id) =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "tool.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    private static void WriteTool(Utf8JsonWriter w, QlaudToolInfo tool) => WriteTool(w, tool, null);

    private static void WriteTool(Utf8JsonWriter w, QlaudToolInfo tool, string? secret)
    {
        w.WriteStartObject();
        w.WriteString("id", tool.Id);
        w.WriteString("object", "tool");
        w.WriteString("type", tool.Type);
        w.WriteString("name", tool.Name);
        w.WriteString("description", tool.Description);
        w.WritePropertyName("input_schema");
        tool.InputSchema.WriteTo(w);
        switch (tool.Type)
        {
            case "builtin":
                w.WriteNumber("price_micros", tool.PriceMicros);
                AdminHttp.WriteUsd(w, "price_usd", tool.PriceMicros);
                break;
            case "connector":
                w.WriteString("connector", tool.ConnectorId);
                break;
            case "webhook":
                w.WriteString("url", tool.Url);
                ConnectorEndpoints.WriteNullable(w, "end_user_id", tool.EndUserId);
                if (tool.CreatedAtMs is { } created)
                {
                    AdminHttp.WriteTime(w, "created_at", created);
                }

                if (secret is not null)
                {
                    w.WriteString("signing_secret", secret);
                }

                break;
        }

        w.WriteEndObject();
    }
}
