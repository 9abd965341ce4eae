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

    /// <summary>The number of top-level members.</summary>
    public int MemberCount;

    /// <summary>Whether the request declares tools (a non-empty <c>tools</c> or <c>functions</c> array).</summary>
    public bool HasTools;

    /// <summary>Bytes of inline media (base64 images, audio, files) inside <c>messages</c> / <c>system</c>, and how many there are.</summary>
    public long MediaBytes;

    /// <summary>The number of inline media values counted in <see cref="MediaBytes"/>.</summary>
    public int MediaCount;

    /// <summary>Input tokens estimated for the inline media (<see cref="Tokenization.MediaTokens"/>) and linked images (by URL).</summary>
    public long MediaTokens;

    /// <summary>Where the inline media values sit in the body (offset and length of each string token), so their text is not
    /// counted as text; null when there are none.</summary>
    public List<(int Start, int Length)>? MediaSpans;

    /// <summary>The <c>models</c> member (fallback models), consumed by Qlaud and removed before passthrough.</summary>
    public MemberSpan ModelsMember;

    /// <summary>The <c>provider</c> member (provider preferences), consumed by Qlaud and removed before passthrough.</summary>
    public MemberSpan ProviderMember;

    /// <summary>Whether the body carries routing fields for Qlaud (<c>models</c> or <c>provider</c>).</summary>
    public readonly bool HasRoutingFields => ModelsMember.Present || ProviderMember.Present;
}

/// <summary>Where a top-level member sits in the raw body, so it can be cut out without touching any other byte.</summary>
internal struct MemberSpan
{
    /// <summary>The end of the previous member's value, or -1 for the first member (the separator starts there).</summary>
    public int SeparatorStart;

    /// <summary>The offset of the member's name (its opening quote).</summary>
    public int NameStart;

    /// <summary>The offset of the member's value.</summary>
    public int ValueStart;

    /// <summary>The offset just past the member's value.</summary>
    public int ValueEnd;

    /// <summary>The offset of the next member's name, or -1 when this is the last member.</summary>
    public int NextNameStart;

    public readonly bool Present => ValueEnd > 0;

    /// <summary>The value's bytes.</summary>
    public readonly ReadOnlySpan<byte> Value(ReadOnlySpan<byte> body) => Present ? body[ValueStart..ValueEnd] : default;
}
