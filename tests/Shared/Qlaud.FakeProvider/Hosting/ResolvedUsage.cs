namespace Qlaud.FakeProvider;

/// <summary>The usage numbers actually written for one reply.</summary>
internal readonly record struct ResolvedUsage(int Input, int Output, int Cached, int CacheCreation, int Reasoning)
{
    public static ResolvedUsage For(FakeReply reply, int requestBodyLength)
    {
        var scripted = reply.Usage;
        var reasoningWords = CountWords(reply.Reasoning);
        var computedOutput = CountWords(reply.Content) + reasoningWords;
        var toolCalls = reply.ToolCalls;
        for (var i = 0; i < toolCalls.Count; i++)
        {
            computedOutput += 1 + (toolCalls[i].ArgumentsJson.Length / 4);
        }

        return new ResolvedUsage(
            scripted?.InputTokens ?? EstimateInputTokens(requestBodyLength),
            scripted?.OutputTokens ?? Math.Max(1, computedOutput),
            scripted?.CachedTokens ?? 0,
            scripted?.CacheCreationTokens ?? 0,
            scripted?.ReasoningTokens ?? reasoningWords);
    }

    public static int EstimateInputTokens(int requestBodyLength) => Math.Max(1, requestBodyLength / 4);

    private static int CountWords(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        var words = 0;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                inWord = false;
            }
            else if (!inWord)
            {
                inWord = true;
                words++;
            }
        }

        return words;
    }
}
