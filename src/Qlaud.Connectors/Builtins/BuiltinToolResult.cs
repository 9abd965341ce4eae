namespace Qlaud.Connectors.Builtins;

/// <summary>What a builtin call gives the model: its text, and whether it is an error (the <c>is_error</c> of its <c>mcp_tool_result</c>).</summary>
/// <param name="IsError">Whether the call failed; a failed call is not charged.</param>
/// <param name="Text">The compact result (usually JSON), or the error for the model to read.</param>
internal readonly record struct BuiltinToolResult(bool IsError, string Text)
{
    /// <summary>A successful result.</summary>
    public static BuiltinToolResult Ok(string text) => new(false, text);

    /// <summary>A failed call, with a message the model can act on.</summary>
    public static BuiltinToolResult Error(string message) => new(true, message);
}
