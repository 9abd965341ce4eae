namespace Qlaud.Batches;

/// <summary>Why a batch's input was rejected.</summary>
/// <param name="Code">A machine-readable code, for example <c>invalid_json</c>, <c>duplicate_custom_id</c>, <c>model_not_found</c>.</param>
/// <param name="Message">What is wrong, for a person.</param>
/// <param name="Param">The field at fault, if one is.</param>
/// <param name="Line">The input file's line number (from 1), or the request's position in the list (from 1).</param>
public sealed record QlaudBatchError(string Code, string Message, string? Param, int? Line)
{
    /// <summary>Writes the error as OpenAI's batch error object, <c>{"code","message","param","line"}</c>: the stored form and the
    /// wire form are the same.</summary>
    internal void WriteTo(System.Text.Json.Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("code", Code);
        writer.WriteString("message", Message);
        writer.WriteString("param", Param);
        if (Line is { } line)
        {
            writer.WriteNumber("line", line);
        }
        else
        {
            writer.WriteNull("line");
        }

        writer.WriteEndObject();
    }
}
