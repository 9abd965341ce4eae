namespace Qlaud;

/// <summary>Keys Qlaud sets in <c>ChatResponse.AdditionalProperties</c> (and on the last streamed update) of in-process calls.</summary>
public static class QlaudResponseProperties
{
    /// <summary>The route that served the answer, <c>provider/upstream-model</c> (string). The HTTP surface sends it as <c>x-qlaud-route</c>.</summary>
    public const string Route = "qlaud.route";

    /// <summary>How many upstream attempts were made (int), retries included; routes skipped because their circuit is open are not attempts. The HTTP surface sends it as <c>x-qlaud-attempts</c>.</summary>
    public const string Attempts = "qlaud.attempts";

    /// <summary>The id of the call (string, <c>req_</c> and 32 hex digits): the <c>request_id</c> of its ledger entry. Set by metering,
    /// on the response and on the first streamed update. The HTTP surface sends it as <c>x-qlaud-request-id</c>.</summary>
    public const string RequestId = "qlaud.request_id";

    /// <summary>The upstream cost of the answer in micro-USD (long), computed from the upstream's reported usage at the route's prices.</summary>
    public const string CostMicros = "qlaud.cost_micros";
}
