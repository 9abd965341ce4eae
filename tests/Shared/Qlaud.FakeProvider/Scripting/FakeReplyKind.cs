namespace Qlaud.FakeProvider;

/// <summary>What a <see cref="FakeReply"/> makes the fake provider do with a chat request.</summary>
public enum FakeReplyKind
{
    /// <summary>A successful completion: text, reasoning and/or tool calls, streamed or not as the request asks.</summary>
    Completion,

    /// <summary>An HTTP error status with a body in the request's dialect.</summary>
    Error,

    /// <summary>Accept the request and never answer, until the client gives up or the server stops.</summary>
    Hang,
}
