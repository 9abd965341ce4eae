using System.Text;
using Qlaud.Tokenization;
using Xunit.Abstractions;

namespace Qlaud.Core.Tests.Tokenization;

public sealed class TokenBoundTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Corpus()
    {
        var random = new Random(7);
        string Random(string alphabet, int length) => new([.. Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)])]);
        const string prose = "The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces, and a gateway must hold enough budget for every piece before it calls the model. ";
        const string code = "public static async Task<int> CountAsync(IReadOnlyList<string> items, CancellationToken ct)\n{\n    int total = 0;\n    foreach (var item in items) { total += item.Length * 2; }\n    return await Task.FromResult(total).ConfigureAwait(false);\n}\n";
        const string json = """{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"}],"temperature":0.7,"max_tokens":100,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}""";
        var data = new TheoryData<string, string>
        {
            { "prose", string.Concat(Enumerable.Repeat(prose, 20)) },
            { "code", string.Concat(Enumerable.Repeat(code, 10)) },
            { "json", string.Concat(Enumerable.Repeat(json, 10)) },
            { "german", string.Concat(Enumerable.Repeat("Grüße aus Köln: Die Straßenbahn fährt über die Brücke, während es draußen regnet. ", 20)) },
            { "chinese", string.Concat(Enumerable.Repeat("人工智能网关在调用模型之前必须预留足够的预算。东京和北京的天气很好。", 20)) },
            { "japanese", string.Concat(Enumerable.Repeat("トークナイザーはテキストを分割します。ひらがなとカタカナと漢字。", 20)) },
            { "emoji", string.Concat(Enumerable.Repeat("Great job 🎉🚀👍🏽 see you 🙂 ", 30)) },
            { "numbers", string.Join(", ", Enumerable.Range(0, 300).Select(i => (i * 7919L % 1000003).ToString(System.Globalization.CultureInfo.InvariantCulture))) },
            { "random-letters", Random("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 3000) },
            { "random-base64", Random("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/", 3000) },
            { "random-hex", Random("0123456789abcdef", 3000) },
            { "uuids", string.Join(" ", Enumerable.Range(0, 60).Select(_ => Guid.NewGuid().ToString())) },
            { "whitespace", string.Concat(Enumerable.Repeat("a\n\n    b\t\t c  \r\n", 100)) },
            { "symbols", string.Concat(Enumerable.Repeat("<<>>==!=&&||::->=>[]{}()~^%$#@!?;,.", 40)) },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Count_Corpus_AtLeastBothTokenizers(string name, string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        long bound = TokenBound.Count(utf8);
        int o200k = TokenCounter.Count(text, TokenEncoding.O200k);
        int cl100k = TokenCounter.Count(text, TokenEncoding.Cl100k);
        output.WriteLine($"{name}: bound {bound}, o200k {o200k} ({(double)bound / o200k:F2}x), cl100k {cl100k} ({(double)bound / cl100k:F2}x)");

        Assert.True(bound >= o200k, $"{name}: bound {bound} < o200k {o200k}");
        Assert.True(bound >= cl100k, $"{name}: bound {bound} < cl100k {cl100k}");
    }
}
