using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

internal sealed partial class OpenAIDialect
{
    /// <inheritdoc />
    public IStreamDecoder CreateStreamDecoder() => new OpenAIStreamDecoder();

    /// <inheritdoc />
    public IStreamEncoder CreateStreamEncoder(string model, string responseId) => CreateStreamEncoder(model, responseId, includeUsage: false);

    /// <summary>A new encoder for one client stream.</summary>
    /// <param name="model">The model reported in every chunk.</param>
    /// <param name="responseId">The completion id reported in every chunk.</param>
    /// <param name="includeUsage">Whether the client asked for the final usage chunk (<c>stream_options.include_usage</c>).</param>
    public OpenAIStreamEncoder CreateStreamEncoder(string model, string responseId, bool includeUsage)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(responseId);
        return new OpenAIStreamEncoder(model, responseId, includeUsage, _timeProvider);
    }

    /// <summary>Whether a decoded request asked for the final usage chunk (<c>stream_options.include_usage: true</c>),
    /// which decides the <c>includeUsage</c> of the client's encoder.</summary>
    internal static bool IncludeUsageRequested(ChatOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.AdditionalProperties?.TryGetValue(Prefix + "stream_options", out var value) is true
            && value is JsonElement { ValueKind: JsonValueKind.Object } streamOptions
            && streamOptions.TryGetProperty("include_usage", out var includeUsage)
            && includeUsage.ValueKind == JsonValueKind.True;
    }
}
