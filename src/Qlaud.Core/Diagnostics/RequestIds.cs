using System.Diagnostics;

namespace Qlaud.Diagnostics;

/// <summary>The id that names one call through Qlaud: the HTTP surface's <c>x-qlaud-request-id</c>, the in-process
/// <see cref="QlaudResponseProperties.RequestId"/>, and the <c>request_id</c> of the call's ledger entry.</summary>
internal static class RequestIds
{
    private const string Prefix = "req_";

    /// <summary>A new id: <c>req_</c> and 32 random hex digits (lower case), written into one string.</summary>
    public static string New()
        => string.Create(Prefix.Length + 32, ActivityTraceId.CreateRandom(), static (chars, id) =>
        {
            Prefix.CopyTo(chars);
            Span<byte> bytes = stackalloc byte[16];
            id.CopyTo(bytes);
            Convert.TryToHexStringLower(bytes, chars[Prefix.Length..], out _);
        });
}
