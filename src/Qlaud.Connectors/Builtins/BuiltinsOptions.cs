namespace Qlaud.Connectors.Builtins;

/// <summary>The account-level switches of the builtin tools in <c>Qlaud:Builtins</c> (each tool's own settings are in
/// <c>Qlaud:Builtins:{name}</c>, see <see cref="BuiltinToolOptions"/>).</summary>
public sealed class BuiltinsOptions
{
    /// <summary>Builtin names no account may use.</summary>
    public List<string> Deny { get; set; } = [];

    /// <summary>Per account (by account id): builtin names that account may not use, added to <see cref="Deny"/>.</summary>
    public Dictionary<string, BuiltinAccessOptions> Accounts { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One account's builtin switches, <c>Qlaud:Builtins:Accounts:{accountId}</c>.</summary>
public sealed class BuiltinAccessOptions
{
    /// <summary>Builtin names this account may not use.</summary>
    public List<string> Deny { get; set; } = [];
}
