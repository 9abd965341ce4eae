using System.Text.Json;

namespace Qlaud.Connectors.Builtins;

/// <summary>A first-party tool that Qlaud runs with the operator's own vendor key (or, for the local sandbox, on this machine):
/// a name the model sees, a description, an explicit JSON schema for its input, a flat price per call, and the call itself.</summary>
/// <remarks>
/// <para>Implementations are typed clients of one vendor API each, registered with <see cref="BuiltinRegistration.AddBuiltin{TTool, TOptions}"/>.
/// They never throw for what the vendor or the input did wrong: a bad argument, a vendor error (401, 429, 5xx), a timeout are a
/// <see cref="BuiltinToolResult.Error(string)"/> whose text the model can read and act on. Only cancellation of the call propagates.</para>
/// <para>The tool loop reserves <see cref="PriceMicros"/> (plus markup) against the caller's key and wallet before
/// <see cref="InvokeAsync"/> and settles it into the ledger with the tool's name afterwards; the implementation does no metering.</para>
/// </remarks>
internal abstract class BuiltinTool
{
    /// <summary>The tool's name as the model sees it (<c>web_search</c>); also its configuration section <c>Qlaud:Builtins:{name}</c>.</summary>
    public abstract string Name { get; }

    /// <summary>What the tool does, for the model.</summary>
    public abstract string Description { get; }

    /// <summary>The JSON schema of the tool's input (an object schema).</summary>
    public abstract JsonElement InputSchema { get; }

    /// <summary>Whether the tool can run here: its vendor key is configured (or its local backend exists) and it is not disabled.
    /// A tool that is not available is absent from every tool list, not offered and failing.</summary>
    public abstract bool IsAvailable { get; }

    /// <summary>The flat price of one call in micro-USD before markup: <c>Qlaud:Builtins:{name}:PriceUsd</c> when set, else the
    /// tool's documented default (the vendor's list price per call).</summary>
    public abstract long PriceMicros { get; }

    /// <summary>Runs one call.</summary>
    /// <param name="call">The model's arguments and who is calling.</param>
    /// <param name="cancellationToken">Cancels the call (the turn was aborted).</param>
    /// <returns>The compact result text for the model, or an error text.</returns>
    public abstract Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken);
}
