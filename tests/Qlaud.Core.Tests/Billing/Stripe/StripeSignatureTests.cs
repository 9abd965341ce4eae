using System.Text;
using Qlaud.Billing.Stripe;
using Qlaud.FakeStripe;

namespace Qlaud.Core.Tests.Billing.Stripe;

public sealed class StripeSignatureTests
{
    private const string Secret = "whsec_test_signature_secret";
    private const string Payload = """{"id":"evt_1","object":"event","type":"checkout.session.completed","data":{"object":{}}}""";
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private static StripeSignatureStatus Verify(string? header, string payload = Payload, string secret = Secret, DateTimeOffset? now = null)
        => StripeSignature.Verify(Encoding.UTF8.GetBytes(payload), header, secret, now ?? Now, Tolerance);

    [Fact]
    public void Verify_KnownVector_Valid()
    {
        // Computed independently (Python hmac): HMAC-SHA256("whsec_test_vector_secret", "1700000000." + payload).
        const string payload = """{"id":"evt_test_vector","object":"event"}""";
        const string header = "t=1700000000,v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16";

        var status = Verify(header, payload, "whsec_test_vector_secret", DateTimeOffset.FromUnixTimeSeconds(1700000000 + 60));

        Assert.Equal(StripeSignatureStatus.Valid, status);
    }

    [Fact]
    public void Verify_SignedByTheDocumentedScheme_Valid()
    {
        Assert.Equal(StripeSignatureStatus.Valid, Verify(FakeStripeWebhook.Sign(Payload, Secret, Now)));
    }

    [Fact]
    public void Verify_WrongSecret_NoSignatureMatch()
    {
        Assert.Equal(StripeSignatureStatus.NoSignatureMatch, Verify(FakeStripeWebhook.Sign(Payload, "whsec_someone_else", Now)));
    }

    [Fact]
    public void Verify_TamperedBody_NoSignatureMatch()
    {
        var header = FakeStripeWebhook.Sign(Payload, Secret, Now);

        Assert.Equal(StripeSignatureStatus.NoSignatureMatch, Verify(header, Payload.Replace("evt_1", "evt_2", StringComparison.Ordinal)));
        Assert.Equal(StripeSignatureStatus.NoSignatureMatch, Verify(header, Payload + " "));
    }

    [Fact]
    public void Verify_TimestampChangedInHeader_NoSignatureMatch()
    {
        var header = FakeStripeWebhook.Sign(Payload, Secret, Now).Replace($"t={Now.ToUnixTimeSeconds()}", $"t={Now.ToUnixTimeSeconds() + 1}", StringComparison.Ordinal);

        Assert.Equal(StripeSignatureStatus.NoSignatureMatch, Verify(header));
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(-3600)]
    [InlineData(301)]
    public void Verify_TimestampOutsideTolerance_Rejected(int offsetSeconds)
    {
        var header = FakeStripeWebhook.Sign(Payload, Secret, Now.AddSeconds(offsetSeconds));

        Assert.Equal(StripeSignatureStatus.TimestampOutsideTolerance, Verify(header));
    }

    [Theory]
    [InlineData(-300)]
    [InlineData(-299)]
    [InlineData(0)]
    [InlineData(300)]
    public void Verify_TimestampWithinTolerance_Valid(int offsetSeconds)
    {
        var header = FakeStripeWebhook.Sign(Payload, Secret, Now.AddSeconds(offsetSeconds));

        Assert.Equal(StripeSignatureStatus.Valid, Verify(header));
    }

    [Fact]
    public void Verify_SeveralV1OneMatching_Valid()
    {
        long t = Now.ToUnixTimeSeconds();
        string good = FakeStripeWebhook.Signature(Payload, Secret, t);
        string other = FakeStripeWebhook.Signature(Payload, "whsec_rolled_secret", t);

        Assert.Equal(StripeSignatureStatus.Valid, Verify($"t={t},v1={other},v1={good}"));
        Assert.Equal(StripeSignatureStatus.Valid, Verify($"t={t},v1={good},v1={other}"));
        Assert.Equal(StripeSignatureStatus.Valid, Verify($"t={t}, v1=abc, v1={good} ,v0={other}"));
    }

    [Fact]
    public void Verify_SeveralV1NoneMatching_NoSignatureMatch()
    {
        long t = Now.ToUnixTimeSeconds();
        string a = FakeStripeWebhook.Signature(Payload, "whsec_a", t);
        string b = FakeStripeWebhook.Signature(Payload, "whsec_b", t);

        Assert.Equal(StripeSignatureStatus.NoSignatureMatch, Verify($"t={t},v1={a},v1={b}"));
    }

    [Fact]
    public void Verify_MatchingSignatureOnlyUnderV0_Malformed()
    {
        // v0 is another scheme: it is ignored, and a header without any v1 cannot verify.
        long t = Now.ToUnixTimeSeconds();

        Assert.Equal(StripeSignatureStatus.Malformed, Verify($"t={t},v0={FakeStripeWebhook.Signature(Payload, Secret, t)}"));
    }

    [Fact]
    public void Verify_UppercaseHex_Valid()
    {
        long t = Now.ToUnixTimeSeconds();

        Assert.Equal(StripeSignatureStatus.Valid, Verify($"t={t},v1={FakeStripeWebhook.Signature(Payload, Secret, t).ToUpperInvariant()}"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Verify_MissingHeader_MissingHeader(string? header)
    {
        Assert.Equal(StripeSignatureStatus.MissingHeader, Verify(header));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    [InlineData("t=,v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    [InlineData("t=abc,v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    [InlineData("t=-5,v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    [InlineData("t=1700000000")]
    [InlineData("t=1700000000,t=1700000001,v1=5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d16")]
    public void Verify_MalformedHeader_Malformed(string header)
    {
        Assert.Equal(StripeSignatureStatus.Malformed, Verify(header));
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d1")]
    [InlineData("5bb0e5fa7bf8bda1aaeed3effe020f3f3379e7427bc9dbcebc54dfee54b96d1g")]
    public void Verify_UnreadableV1_NoSignatureMatch(string signature)
    {
        Assert.Equal(StripeSignatureStatus.NoSignatureMatch, Verify($"t={Now.ToUnixTimeSeconds()},v1={signature}"));
    }

    [Fact]
    public void Verify_ManySignatures_AllConsidered()
    {
        long t = Now.ToUnixTimeSeconds();
        var others = Enumerable.Range(0, 10).Select(i => "v1=" + FakeStripeWebhook.Signature(Payload, "whsec_" + i, t));
        var header = $"t={t}," + string.Join(',', others) + ",v1=" + FakeStripeWebhook.Signature(Payload, Secret, t);

        Assert.Equal(StripeSignatureStatus.Valid, Verify(header));
    }
}
