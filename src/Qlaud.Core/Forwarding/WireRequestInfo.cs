namespace Qlaud.Forwarding;

/// <summary>What the forwarder needs to know about a raw wire request, read in one pass without building an object model.</summary>
internal struct WireRequestInfo
{
    /// <summary>The <c>model</c> value.</summary>
    public string? Model;

    /// <summary>Byte offset and length of the <c>model</c> value token (quotes included).</summary>
    public int ModelStart, ModelLength;

    /// <summary>Whether <c>stream</c> is <c>true</c>.</summary>
    public bool Stream;

    /// <summary>Whether the client itself asked for <c>stream_options.include_usage</c>.</summary>
    public bool ClientIncludeUsage;

    /// <summary>Offset of the <c>{</c> opening the <c>stream_options</c> object, or -1.</summary>
    public int StreamOptionsObjectStart;

    /// <summary>Offset and length of the <c>include_usage</c> value inside <c>stream_options</c>, or -1.</summary>
    public int IncludeUsageStart, IncludeUsageLength;

    /// <summary>Offset of the top-level <c>{</c>.</summary>
    public int ObjectStart;

    /// <summary><c>max_tokens</c> / <c>max_completion_tokens</c> / <c>max_output_tokens</c>, when given.</summary>
    public long? MaxTokens;
}
