namespace Qlaud.Accounts;

/// <summary>An account as the operator endpoints show it.</summary>
internal sealed record AccountView(string Id, string Name, long CreatedAtMs, long? DisabledAtMs)
{
    public bool Disabled => DisabledAtMs is not null;
}
