using Qlaud.Dialects.Anthropic;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicDialectErrorTests
{
    [Theory]
    [InlineData(QlaudErrorKind.InvalidRequest, "invalid_request_error", 400)]
    [InlineData(QlaudErrorKind.Authentication, "authentication_error", 401)]
    [InlineData(QlaudErrorKind.PaymentRequired, "billing_error", 402)]
    [InlineData(QlaudErrorKind.Permission, "permission_error", 403)]
    [InlineData(QlaudErrorKind.NotFound, "not_found_error", 404)]
    [InlineData(QlaudErrorKind.RateLimited, "rate_limit_error", 429)]
    [InlineData(QlaudErrorKind.Internal, "api_error", 500)]
    [InlineData(QlaudErrorKind.UpstreamError, "api_error", 502)]
    [InlineData(QlaudErrorKind.Unavailable, "overloaded_error", 503)]
    [InlineData(QlaudErrorKind.Timeout, "timeout_error", 504)]
    public void WriteError_EachKind_WritesAnthropicEnvelope(QlaudErrorKind kind, string type, int status)
    {
        var error = new QlaudError(kind, "Spend cap of $5.00 reached \"now\".", Code: "ignored_code");

        string json = Write(w => AnthropicDialect.Instance.WriteError(w, error));

        Equal($$$"""{"type":"error","error":{"type":"{{{type}}}","message":"Spend cap of $5.00 reached \"now\"."}}""", json);
        Assert.Equal(status, error.StatusCode);
    }

    [Fact]
    public void Name_IsAnthropic() => Assert.Equal("anthropic", AnthropicDialect.Instance.Name);
}
