namespace Qlaud.Batches;

/// <summary>The endpoints a batch's requests can target, with the wire dialect of their bodies.</summary>
public static class QlaudBatchEndpoint
{
    /// <summary>OpenAI Chat Completions bodies.</summary>
    public const string ChatCompletions = "/v1/chat/completions";

    /// <summary>OpenAI embeddings bodies.</summary>
    public const string Embeddings = "/v1/embeddings";

    /// <summary>Anthropic Messages bodies.</summary>
    public const string Messages = "/v1/messages";

    /// <summary>Whether <paramref name="endpoint"/> is one of the three.</summary>
    public static bool IsSupported(string? endpoint) => endpoint is ChatCompletions or Embeddings or Messages;
}
