using System.Diagnostics;

namespace Qlaud.Diagnostics;

/// <summary>The id that names one call through Qlaud: the HTTP surface's <c>x-qlaud-request-id</c>, the in-process
/// <see cref="QlaudResponseProperties.RequestId"/>, and the <c>request_id</c> of the call's ledger entry.</summary>
internal static class RequestIds
{
    /// <summary>A new id: <c>req_</c> and 32 random hex digits.</summary>
    public static string New() => "req_" + ActivityTraceId.CreateRandom().ToHexString();
}
