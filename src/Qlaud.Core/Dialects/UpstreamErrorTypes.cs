namespace Qlaud.Dialects;

/// <summary>
/// The error type a client sees for an upstream's error status, in the client's dialect: the upstream's own type when both
/// speak the same dialect, otherwise the other dialect's type for the same meaning.
/// </summary>
/// <remarks>
/// From the providers' published error references. Anthropic: 400 <c>invalid_request_error</c>, 401
/// <c>authentication_error</c>, 402 <c>billing_error</c>, 403 <c>permission_error</c>, 404 <c>not_found_error</c>, 413
/// <c>request_too_large</c>, 429 <c>rate_limit_error</c>, 500 <c>api_error</c>, 504 <c>timeout_error</c>, 529
/// <c>overloaded_error</c>. OpenAI: 400/404 <c>invalid_request_error</c>, 429 rate limits (<c>requests</c>, <c>tokens</c>) and
/// <c>insufficient_quota</c>, 500 and 503 (overloaded, slow down) <c>server_error</c>. The mapping is by type where the source
/// type says more than its status (an Anthropic <c>overloaded_error</c> is a server error to an OpenAI client), else by status.
/// </remarks>
internal static class UpstreamErrorTypes
{
    /// <summary>The Anthropic <c>error.type</c> for an upstream error of <paramref name="status"/>.</summary>
    /// <param name="status">The upstream's HTTP status.</param>
    /// <param name="type">The upstream's own error type, if its body had one.</param>
    /// <param name="dialect">The upstream's dialect (<c>openai</c> or <c>anthropic</c>).</param>
    public static string ForAnthropic(int status, string? type, string? dialect)
    {
        if (type is not null && dialect == "anthropic")
        {
            return type;
        }

        return type switch
        {
            "insufficient_quota" when status == 402 => "billing_error",
            _ => status switch
            {
                401 => "authentication_error",
                402 => "billing_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                503 or 529 => "overloaded_error",
                504 => "timeout_error",
                >= 500 => "api_error",
                _ => "invalid_request_error",
            },
        };
    }

    /// <summary>The OpenAI <c>error.type</c> for an upstream error of <paramref name="status"/>.</summary>
    /// <param name="status">The upstream's HTTP status.</param>
    /// <param name="type">The upstream's own error type, if its body had one.</param>
    /// <param name="dialect">The upstream's dialect (<c>openai</c> or <c>anthropic</c>).</param>
    public static string ForOpenAI(int status, string? type, string? dialect)
    {
        if (type is not null && dialect == "openai")
        {
            return type;
        }

        return type switch
        {
            "invalid_request_error" or "not_found_error" or "request_too_large" or "authentication_error" => "invalid_request_error",
            "permission_error" => "request_forbidden",
            "billing_error" => "insufficient_quota",
            "rate_limit_error" => "requests",
            "api_error" or "overloaded_error" or "timeout_error" => "server_error",
            _ => status switch
            {
                403 => "request_forbidden",
                429 => "requests",
                >= 500 => "server_error",
                _ => "invalid_request_error",
            },
        };
    }
}
