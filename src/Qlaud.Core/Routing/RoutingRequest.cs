using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Routing;

/// <summary>The routing choices a request carries besides its model: fallback <c>models</c> and <c>provider</c> preferences.</summary>
/// <remarks>Built only when a request carries them, so plain requests allocate nothing for routing.</remarks>
internal sealed class RoutingRequest
{
    public IReadOnlyList<string> Models { get; init; } = [];

    public ProviderPreferences? Provider { get; init; }

    /// <summary>Reads the wire fields whose value spans the scanner recorded; returns an error message for a malformed field.</summary>
    public static string? Parse(ReadOnlySpan<byte> modelsValue, ReadOnlySpan<byte> providerValue, out RoutingRequest? request)
    {
        request = null;
        IReadOnlyList<string> models = [];
        ProviderPreferences? provider = null;
        try
        {
            if (!modelsValue.IsEmpty)
            {
                var reader = new Utf8JsonReader(modelsValue);
                reader.Read();
                if (ReadStrings(ref reader) is not { } list)
                {
                    return "'models' must be an array of model ids.";
                }

                models = list;
            }

            if (!providerValue.IsEmpty)
            {
                var reader = new Utf8JsonReader(providerValue);
                reader.Read();
                if (ReadProvider(ref reader, out provider) is { } error)
                {
                    return error;
                }
            }
        }
        catch (JsonException ex)
        {
            return $"'provider' or 'models' is not valid JSON: {ex.Message}";
        }

        request = new RoutingRequest { Models = models, Provider = provider };
        return null;
    }

    /// <summary>Reads <see cref="QlaudChatOptions.Models"/> and <see cref="QlaudChatOptions.Provider"/>; null when neither is set.</summary>
    /// <exception cref="ArgumentException">A value of the wrong type.</exception>
    public static RoutingRequest? FromChatOptions(ChatOptions? options) => FromProperties(options?.AdditionalProperties, "ChatOptions");

    /// <summary>Reads the same keys from <c>EmbeddingGenerationOptions.AdditionalProperties</c>; null when neither is set.</summary>
    /// <exception cref="ArgumentException">A value of the wrong type.</exception>
    public static RoutingRequest? FromEmbeddingOptions(EmbeddingGenerationOptions? options) => FromProperties(options?.AdditionalProperties, "EmbeddingGenerationOptions");

    private static RoutingRequest? FromProperties(AdditionalPropertiesDictionary? options, string owner)
    {
        if (options is not { Count: > 0 } properties)
        {
            return null;
        }

        bool hasModels = properties.TryGetValue(QlaudChatOptions.Models, out object? modelsValue) && modelsValue is not null;
        bool hasProvider = properties.TryGetValue(QlaudChatOptions.Provider, out object? providerValue) && providerValue is not null;
        if (!hasModels && !hasProvider)
        {
            return null;
        }

        IReadOnlyList<string> models = modelsValue switch
        {
            null => [],
            string single => [single],
            IEnumerable<string> many => [.. many],
            JsonElement { ValueKind: JsonValueKind.Array } json => ReadJson(json, static (ref Utf8JsonReader r) => ReadStrings(ref r))
                ?? throw new ArgumentException($"{owner}.AdditionalProperties[\"{QlaudChatOptions.Models}\"] must be an array of model ids.", nameof(options)),
            _ => throw new ArgumentException($"{owner}.AdditionalProperties[\"{QlaudChatOptions.Models}\"] must be a sequence of model ids.", nameof(options)),
        };

        ProviderPreferences? provider = providerValue switch
        {
            null => null,
            ProviderPreferences typed => typed,
            JsonElement { ValueKind: JsonValueKind.Object } json => ReadJson(json, static (ref Utf8JsonReader r) =>
                ReadProvider(ref r, out var p) is { } error ? throw new ArgumentException(error, nameof(options)) : p),
            _ => throw new ArgumentException($"{owner}.AdditionalProperties[\"{QlaudChatOptions.Provider}\"] must be a {nameof(ProviderPreferences)} or a JSON object.", nameof(options)),
        };

        return new RoutingRequest { Models = models, Provider = provider };
    }

    private delegate T? JsonRead<T>(ref Utf8JsonReader reader);

    private static T? ReadJson<T>(JsonElement element, JsonRead<T> read)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(element.GetRawText()));
        reader.Read();
        return read(ref reader);
    }

    private static List<string>? ReadStrings(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return null;
        }

        var list = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 } value)
            {
                return null;
            }

            list.Add(value);
        }

        return list;
    }

    private static string? ReadProvider(ref Utf8JsonReader reader, out ProviderPreferences? provider)
    {
        provider = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return "'provider' must be an object.";
        }

        var result = new ProviderPreferences();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("order"u8) || reader.ValueTextEquals("only"u8) || reader.ValueTextEquals("ignore"u8))
            {
                string field = reader.GetString()!;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (ReadStrings(ref reader) is not { } names)
                {
                    return $"'provider.{field}' must be an array of provider names.";
                }

                result = field switch
                {
                    "order" => result with { Order = names },
                    "only" => result with { Only = names },
                    _ => result with { Ignore = names },
                };
            }
            else if (reader.ValueTextEquals("sort"u8))
            {
                reader.Read();
                ProviderSort? sort = reader.TokenType == JsonTokenType.Null ? null
                    : reader.TokenType != JsonTokenType.String ? (ProviderSort)(-1)
                    : reader.ValueTextEquals("price"u8) ? ProviderSort.Price
                    : reader.ValueTextEquals("throughput"u8) ? ProviderSort.Throughput
                    : reader.ValueTextEquals("latency"u8) ? ProviderSort.Latency
                    : (ProviderSort)(-1);
                if (sort is (ProviderSort)(-1))
                {
                    return "'provider.sort' must be one of \"price\", \"throughput\" or \"latency\".";
                }

                result = result with { Sort = sort };
            }
            else if (reader.ValueTextEquals("allow_fallbacks"u8))
            {
                reader.Read();
                if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                {
                    return "'provider.allow_fallbacks' must be a boolean.";
                }

                result = result with { AllowFallbacks = reader.TokenType != JsonTokenType.False };
            }
            else if (reader.ValueTextEquals("max_price"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return "'provider.max_price' must be an object such as {\"prompt\": 1, \"completion\": 2} (USD per million tokens).";
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool prompt = reader.ValueTextEquals("prompt"u8), completion = reader.ValueTextEquals("completion"u8);
                    string field = reader.GetString()!;
                    reader.Read();
                    if (!prompt && !completion)
                    {
                        reader.Skip(); // request, image: prices Qlaud's catalog does not have
                        continue;
                    }

                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        continue;
                    }

                    // OpenRouter sends prices as numbers or numeric strings.
                    decimal value = 0;
                    bool ok = reader.TokenType == JsonTokenType.Number ? reader.TryGetDecimal(out value)
                        : reader.TokenType == JsonTokenType.String && decimal.TryParse(reader.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value);
                    if (!ok || value < 0)
                    {
                        return $"'provider.max_price.{field}' must be a number of USD per million tokens, 0 or more.";
                    }

                    result = prompt ? result with { MaxPromptPrice = value } : result with { MaxCompletionPrice = value };
                }
            }
            else
            {
                // Other OpenRouter preferences (data_collection, quantizations, require_parameters, …) have no meaning here.
                reader.Read();
                reader.Skip();
            }
        }

        provider = result;
        return null;
    }
}
