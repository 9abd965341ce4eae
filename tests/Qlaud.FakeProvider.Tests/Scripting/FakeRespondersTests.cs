namespace Qlaud.FakeProvider.Tests.Scripting;

public sealed class FakeRespondersTests
{
    private static readonly RecordedRequest Request = new("POST", "/v1/chat/completions", [], [], DateTimeOffset.UnixEpoch, "m", stream: false);

    [Fact]
    public void FailEvery_Two_FailsRequestsOneThreeFive()
    {
        var failure = FakeReply.Error(503);
        var success = FakeReply.Text("ok");
        var responder = FakeResponders.FailEvery(2, failure, success);

        var replies = Enumerable.Range(0, 6).Select(_ => responder(Request)).ToList();

        Assert.Equal([failure, success, failure, success, failure, success], replies);
    }

    [Fact]
    public void FailEvery_One_FailsEveryRequest()
    {
        var failure = FakeReply.Error(500);
        var responder = FakeResponders.FailEvery(1, failure, FakeReply.Text("ok"));

        Assert.All(Enumerable.Range(0, 3), _ => Assert.Same(failure, responder(Request)));
    }

    [Fact]
    public void FailEvery_Zero_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => FakeResponders.FailEvery(0, FakeReply.Error(503), FakeReply.Text("ok")));
}
