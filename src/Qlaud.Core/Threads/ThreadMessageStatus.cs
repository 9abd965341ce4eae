namespace Qlaud.Threads;

/// <summary>The wire values of a message's <c>status</c>.</summary>
internal static class ThreadMessageStatus
{
    public const string Complete = "complete";

    public const string Incomplete = "incomplete";
}
