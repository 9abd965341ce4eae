using System.Text.Json;

namespace Qlaud.Dialects.OpenAI;

internal sealed partial class OpenAIDialect
{
    private static string? OptionalString(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null => null,
        _ => throw Invalid(path + " must be a string."),
    };

    private static float? OptionalSingle(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetSingle(),
        JsonValueKind.Null => null,
        _ => throw Invalid(path + " must be a number."),
    };

    private static int? OptionalInt32(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetInt32(out var number) => number,
        JsonValueKind.Null => null,
        _ => throw Invalid(path + " must be an integer."),
    };

    private static long? OptionalInt64(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetInt64(out var number) => number,
        JsonValueKind.Null => null,
        _ => throw Invalid(path + " must be an integer."),
    };

    private static bool? OptionalBoolean(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => throw Invalid(path + " must be a boolean."),
    };

    private static DialectException Invalid(string message, Exception? inner = null) => new(QlaudErrorKind.InvalidRequest, message, inner);

    private static JsonElement ParseBody(ReadOnlySpan<byte> utf8Json, QlaudErrorKind kind, string what)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json);
            return JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new DialectException(kind, $"The {what} body is not valid JSON: {ex.Message}", ex);
        }
    }
}
