using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

/// <summary>A function tool declared on the wire: name, description, the raw JSON schema of its parameters and <c>strict</c>.</summary>
/// <remarks>
/// Any codec can encode it through <see cref="AIFunctionDeclaration"/>; <c>strict</c> is also exposed as
/// <c>AdditionalProperties["strict"]</c>. The OpenAI codec writes <see cref="Raw"/> back verbatim so fields it does not
/// map (<c>cache_control</c>, provider extensions) survive.
/// </remarks>
internal sealed class OpenAIFunctionDeclaration : AIFunctionDeclaration
{
    private static readonly JsonElement EmptyParameters = JsonElement.Parse("""{"type":"object","properties":{}}""");
    private static readonly IReadOnlyDictionary<string, object?> StrictTrue = new Dictionary<string, object?> { ["strict"] = true };
    private static readonly IReadOnlyDictionary<string, object?> StrictFalse = new Dictionary<string, object?> { ["strict"] = false };
    private static readonly IReadOnlyDictionary<string, object?> NoProperties = new Dictionary<string, object?>();

    /// <summary>Creates the declaration.</summary>
    public OpenAIFunctionDeclaration(string name, string? description, JsonElement? parameters, bool? strict, JsonElement? raw = null)
    {
        Name = name;
        Description = description ?? "";
        Parameters = parameters;
        Strict = strict;
        Raw = raw;
    }

    /// <inheritdoc />
    public override string Name { get; }

    /// <inheritdoc />
    public override string Description { get; }

    /// <summary>The <c>parameters</c> schema as sent, or null when the tool declared none.</summary>
    public JsonElement? Parameters { get; }

    /// <inheritdoc />
    public override JsonElement JsonSchema => Parameters ?? EmptyParameters;

    /// <summary>The <c>strict</c> flag as sent.</summary>
    public bool? Strict { get; }

    /// <summary>The whole wire tool object when decoded from OpenAI JSON.</summary>
    public JsonElement? Raw { get; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> AdditionalProperties =>
        Strict switch { true => StrictTrue, false => StrictFalse, null => NoProperties };
}
