namespace Qlaud.Core.Tests;

public sealed class QlaudErrorTests
{
    [Theory]
    [InlineData(QlaudErrorKind.InvalidRequest, 400)]
    [InlineData(QlaudErrorKind.Authentication, 401)]
    [InlineData(QlaudErrorKind.PaymentRequired, 402)]
    [InlineData(QlaudErrorKind.NotFound, 404)]
    [InlineData(QlaudErrorKind.RateLimited, 429)]
    [InlineData(QlaudErrorKind.UpstreamError, 502)]
    [InlineData(QlaudErrorKind.Unavailable, 503)]
    [InlineData(QlaudErrorKind.Timeout, 504)]
    public void StatusCode_EachKind_MapsToDocumentedStatus(QlaudErrorKind kind, int status)
        => Assert.Equal(status, new QlaudError(kind, "x").StatusCode);
}
