namespace Qlaud.FakeProvider;

/// <summary>What the fake's <c>POST /v1/images/generations</c> draws: the same small valid PNG for every image.</summary>
public static class FakeImages
{
    /// <summary>A 1×1 PNG (one opaque pixel), the bytes of every <c>b64_json</c> the fake returns.</summary>
    public static byte[] Png => Convert.FromBase64String(PngBase64);

    /// <summary><see cref="Png"/> in base64, as it appears in <c>b64_json</c>.</summary>
    public const string PngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    /// <summary>The image output tokens OpenAI documents for a GPT image model by quality and size (1024×1024: 272 low, 1056 medium,
    /// 4160 high; 1024×1536: 408, 1584, 6240; 1536×1024: 400, 1568, 6208), which the fake reports as <c>output_tokens</c> per image.</summary>
    public static int OutputTokens(string quality, string size) => (quality, size) switch
    {
        ("low", "1024x1536") => 408,
        ("low", "1536x1024") => 400,
        ("low", _) => 272,
        ("high", "1024x1536") => 6240,
        ("high", "1536x1024") => 6208,
        ("high", _) => 4160,
        (_, "1024x1536") => 1584,
        (_, "1536x1024") => 1568,
        _ => 1056,
    };
}
