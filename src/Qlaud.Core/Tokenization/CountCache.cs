namespace Qlaud.Tokenization;

/// <summary>
/// Token counts of long texts already counted. An agent loop (Claude Code, an OpenAI tool loop) sends the same system prompt,
/// tool schemas and earlier turns on every request, and tokenizing them again costs tens of microseconds per KB on the request
/// path (the translated stream's <c>message_start</c> estimate, automatic prompt-cache breakpoints); looking a text up costs a
/// hash over its characters.
/// </summary>
/// <remarks>Keys are compared by content. The cache holds at most <see cref="MaxChars"/> characters of keys and is emptied when
/// full, so memory stays bounded whatever the traffic.</remarks>
internal sealed class CountCache
{
    /// <summary>Texts shorter than this are counted each time: hashing them would save little.</summary>
    public const int MinChars = 256;

    /// <summary>The most characters of text the cache keeps as keys (16 M characters, 32 MB).</summary>
    public const long MaxChars = 16L * 1024 * 1024;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private long _chars;

    public bool TryGet(string text, out int tokens) => _counts.TryGetValue(text, out tokens);

    public void Add(string text, int tokens)
    {
        if (Interlocked.Add(ref _chars, text.Length) > MaxChars)
        {
            _counts.Clear();
            Interlocked.Exchange(ref _chars, text.Length);
        }

        _counts.TryAdd(text, tokens);
    }
}
