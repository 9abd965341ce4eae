namespace Qlaud.Core.Tests.Dialects.OpenAI;

public sealed partial class OpenAIDialectTests
{
    [Fact]
    public void WriteError_InvalidRequest_WritesOpenAIEnvelope()
    {
        var json = JsonAssert.Write(writer => Dialect.WriteError(writer, new QlaudError(QlaudErrorKind.InvalidRequest, "messages is required.")));

        Assert.Equal("""{"error":{"message":"messages is required.","type":"invalid_request_error","param":null,"code":null}}""", json);
    }

    [Theory]
    [InlineData(QlaudErrorKind.InvalidRequest, null, "invalid_request_error", null)]
    [InlineData(QlaudErrorKind.Authentication, null, "invalid_request_error", "invalid_api_key")]
    [InlineData(QlaudErrorKind.PaymentRequired, null, "insufficient_quota", "insufficient_quota")]
    [InlineData(QlaudErrorKind.PaymentRequired, "spend_cap_exceeded", "insufficient_quota", "spend_cap_exceeded")]
    [InlineData(QlaudErrorKind.Permission, null, "request_forbidden", null)]
    [InlineData(QlaudErrorKind.NotFound, "model_not_found", "invalid_request_error", "model_not_found")]
    [InlineData(QlaudErrorKind.RateLimited, null, "requests", "rate_limit_exceeded")]
    [InlineData(QlaudErrorKind.Internal, null, "server_error", null)]
    [InlineData(QlaudErrorKind.UpstreamError, null, "server_error", null)]
    [InlineData(QlaudErrorKind.Unavailable, null, "server_error", null)]
    [InlineData(QlaudErrorKind.Timeout, null, "server_error", null)]
    public void WriteError_EachKind_UsesOpenAITypeAndCode(QlaudErrorKind kind, string? code, string expectedType, string? expectedCode)
    {
        var json = JsonAssert.Write(writer => Dialect.WriteError(writer, new QlaudError(kind, "m", code)));

        var error = JsonAssert.Parse(json).GetProperty("error");
        Assert.Equal(expectedType, error.GetProperty("type").GetString());
        Assert.Equal(expectedCode, error.GetProperty("code").GetString());
        Assert.Equal("m", error.GetProperty("message").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("param").ValueKind);
    }
}
