using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Connectors.Tools;

/// <summary>A tool the loop executes: a name, a description, an explicit JSON schema and a callback, with no reflection.</summary>
internal sealed class QlaudFunction(string name, string description, JsonElement schema, Func<AIFunctionArguments, CancellationToken, ValueTask<object?>> invoke) : AIFunction
{
    public override string Name { get; } = name;

    public override string Description { get; } = description;

    public override JsonElement JsonSchema { get; } = schema;

    protected override ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken) => invoke(arguments, cancellationToken);

    public static JsonElement Schema(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
