using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// A custom tool of an Anthropic request (<c>name</c>, <c>description</c>, <c>input_schema</c>) as a function declaration
/// that any dialect can describe to its model. The schema is kept exactly as the client sent it.
/// </summary>
/// <remarks>
/// <see cref="AdditionalProperties"/> carries the tool's <c>cache_control</c> under <see cref="CanonicalKeys.CacheControl"/>
/// and its other wire fields (<c>strict</c>, <c>type</c>, <c>input_examples</c>, …) under <c>anthropic:&lt;name&gt;</c>.
/// </remarks>
internal sealed class AnthropicToolDeclaration : AIFunctionDeclaration
{
    private static readonly Dictionary<string, object?> s_none = [];

    /// <summary>Creates the declaration.</summary>
    public AnthropicToolDeclaration(string name, string? description, JsonElement inputSchema, IReadOnlyDictionary<string, object?>? additionalProperties = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Description = description ?? "";
        JsonSchema = inputSchema;
        AdditionalProperties = additionalProperties ?? s_none;
    }

    /// <inheritdoc />
    public override string Name { get; }

    /// <inheritdoc />
    public override string Description { get; }

    /// <summary>The tool's <c>input_schema</c> as the client sent it.</summary>
    public override JsonElement JsonSchema { get; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> AdditionalProperties { get; }
}
