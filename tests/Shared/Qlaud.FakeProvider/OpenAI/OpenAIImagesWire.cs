using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>
/// OpenAI's image generation format (<c>POST /v1/images/generations</c>), checked as the API reference documents it: <c>prompt</c>
/// is required, <c>n</c> is 1 to 10 (1 for <c>dall-e-3</c>), <c>size</c> and <c>quality</c> take the values of the model's family
/// (GPT image models: <c>auto</c>, <c>1024x1024</c>, <c>1536x1024</c>, <c>1024x1536</c> and <c>auto</c>, <c>low</c>, <c>medium</c>,
/// <c>high</c>), <c>output_format</c> is <c>png</c>, <c>jpeg</c> or <c>webp</c>, and GPT image models reject <c>response_format</c>
/// (they always return <c>b64_json</c>).
/// </summary>
/// <remarks>The answer has <c>created</c>, one <c>data</c> item per image (<see cref="FakeImages.Png"/> as <c>b64_json</c>;
/// a <c>dall-e-*</c> model also adds <c>revised_prompt</c>), and for GPT image models the resolved <c>background</c>,
/// <c>output_format</c>, <c>quality</c> (auto → medium), <c>size</c> (auto → 1024x1024) and <c>usage</c> with the documented image
/// output tokens.</remarks>
internal static class OpenAIImagesWire
{
    private static readonly string[] GptSizes = ["auto", "1024x1024", "1536x1024", "1024x1536"];
    private static readonly string[] GptQualities = ["auto", "low", "medium", "high"];
    private static readonly string[] Dalle3Sizes = ["1024x1024", "1792x1024", "1024x1792"];
    private static readonly string[] Dalle3Qualities = ["standard", "hd"];

    /// <summary>The parsed request, or OpenAI's 400 message, parameter and code for it.</summary>
    public readonly record struct Request(string Model, string Prompt, int N, string? Size, string? Quality, string? OutputFormat, string? Background,
        string? ResponseFormat, string? Error, string? Param, string? Code)
    {
        public bool IsGptImage => Model.StartsWith("gpt-image", StringComparison.Ordinal);
    }

    public static Request Parse(ReadOnlySpan<byte> json)
    {
        string? model = null, prompt = null, size = null, quality = null, format = null, background = null, responseFormat = null;
        int n = 1;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Invalid("We could not parse the JSON body of your request.", null, null);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                switch (name)
                {
                    case "model": model = text; break;
                    case "prompt": prompt = text; break;
                    case "size": size = text; break;
                    case "quality": quality = text; break;
                    case "output_format": format = text; break;
                    case "background": background = text; break;
                    case "response_format": responseFormat = text; break;
                    case "n":
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out n))
                        {
                            return Invalid("Invalid type for 'n': expected an integer.", "n", "invalid_type");
                        }

                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return Invalid("We could not parse the JSON body of your request.", null, null);
        }

        if (string.IsNullOrEmpty(prompt))
        {
            return Invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
        }

        var request = new Request(model ?? "dall-e-2", prompt, n, size, quality, format, background, responseFormat, null, null, null);
        bool gpt = request.IsGptImage;
        bool dalle3 = request.Model == "dall-e-3";
        if (n is < 1 or > 10 || dalle3 && n != 1)
        {
            return Invalid($"Invalid 'n': {n}. {(dalle3 ? "dall-e-3 supports only n=1." : "Must be between 1 and 10.")}", "n", "invalid_value");
        }

        if (gpt && responseFormat is not null)
        {
            return Invalid("Unknown parameter: 'response_format'.", "response_format", "unknown_parameter");
        }

        string[]? sizes = gpt ? GptSizes : dalle3 ? Dalle3Sizes : null;
        if (size is not null && sizes is not null && Array.IndexOf(sizes, size) < 0)
        {
            return Invalid($"Invalid value: '{size}'. Supported values are: {string.Join(", ", sizes.Select(static s => $"'{s}'"))}.", "size", "invalid_value");
        }

        string[]? qualities = gpt ? GptQualities : dalle3 ? Dalle3Qualities : null;
        if (quality is not null && qualities is not null && Array.IndexOf(qualities, quality) < 0)
        {
            return Invalid($"Invalid value: '{quality}'. Supported values are: {string.Join(", ", qualities.Select(static s => $"'{s}'"))}.", "quality", "invalid_value");
        }

        if (format is not null && (!gpt || format is not ("png" or "jpeg" or "webp")))
        {
            return Invalid(gpt ? $"Invalid value: '{format}'. Supported values are: 'png', 'jpeg', and 'webp'." : "Unknown parameter: 'output_format'.",
                "output_format", gpt ? "invalid_value" : "unknown_parameter");
        }

        return request;
    }

    /// <summary>Writes the answer for <paramref name="request"/>.</summary>
    public static void Write(Utf8JsonWriter w, in Request request, long created, long? inputTokens)
    {
        w.WriteStartObject();
        w.WriteNumber("created", created);
        w.WriteStartArray("data");
        for (int i = 0; i < request.N; i++)
        {
            w.WriteStartObject();
            w.WriteString("b64_json", FakeImages.PngBase64);
            if (!request.IsGptImage)
            {
                w.WriteString("revised_prompt", "A picture of " + request.Prompt);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (request.IsGptImage)
        {
            string quality = request.Quality is null or "auto" ? "medium" : request.Quality;
            string size = request.Size is null or "auto" ? "1024x1024" : request.Size;
            long input = inputTokens ?? Math.Max(1, request.Prompt.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length);
            long output = (long)FakeImages.OutputTokens(quality, size) * request.N;
            w.WriteString("background", request.Background is null or "auto" ? "opaque" : request.Background);
            w.WriteString("output_format", request.OutputFormat ?? "png");
            w.WriteString("quality", quality);
            w.WriteString("size", size);
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", input);
            w.WriteStartObject("input_tokens_details");
            w.WriteNumber("image_tokens", 0);
            w.WriteNumber("text_tokens", input);
            w.WriteEndObject();
            w.WriteNumber("output_tokens", output);
            w.WriteNumber("total_tokens", input + output);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static Request Invalid(string error, string? param, string? code) => new("", "", 0, null, null, null, null, null, error, param, code);
}
