using System.Globalization;

namespace Qlaud.FakeProvider;

/// <summary>Provider-looking ids (<c>chatcmpl-…</c>, <c>msg_…</c>, <c>call_…</c>, <c>toolu_…</c>), unique per process run.</summary>
internal static class FakeIds
{
    private static readonly string s_run = ((uint)Environment.TickCount64 ^ (uint)Environment.ProcessId).ToString("x8", CultureInfo.InvariantCulture);

    public static string Create(string prefix, long sequence)
        => string.Create(CultureInfo.InvariantCulture, $"{prefix}fake{s_run}{sequence:x12}");

    public static string Create(string prefix, long sequence, int index)
        => string.Create(CultureInfo.InvariantCulture, $"{prefix}fake{s_run}{sequence:x12}{index:x2}");
}
