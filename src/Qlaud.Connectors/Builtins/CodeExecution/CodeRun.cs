using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>What one program run produced, and why it failed when it did.</summary>
/// <param name="Stdout">Standard output (cut to the limit, with a note).</param>
/// <param name="Stderr">Standard error (cut to the limit, with a note); for E2B also the traceback of an exception.</param>
/// <param name="ExitCode">The exit code; 128 + n for a program killed by signal n; null when it was stopped by the timeout.</param>
/// <param name="TimedOut">Whether the wall-clock timeout stopped it.</param>
/// <param name="Truncated">Whether stdout or stderr was cut.</param>
/// <param name="Failure">Why the run failed, for the model (null for a run that exited with code 0).</param>
/// <param name="Result">E2B: the text of the value of the last expression (Jupyter's result), when there is one.</param>
internal sealed record CodeRun(string Stdout, string Stderr, int? ExitCode, bool TimedOut, bool Truncated, string? Failure, string? Result = null)
{
    /// <summary>Escapes only what JSON needs: the text is for a model, not for HTML.</summary>
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The compact JSON the model sees: <c>{stdout, stderr, exit_code, timed_out, truncated[, result]}</c>; an error
    /// result (the failure, then the JSON) when the run failed.</summary>
    public BuiltinToolResult ToResult()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("stdout", Stdout);
            writer.WriteString("stderr", Stderr);
            if (ExitCode is { } code)
            {
                writer.WriteNumber("exit_code", code);
            }
            else
            {
                writer.WriteNull("exit_code");
            }

            writer.WriteBoolean("timed_out", TimedOut);
            writer.WriteBoolean("truncated", Truncated);
            if (Result is not null)
            {
                writer.WriteString("result", Result);
            }

            writer.WriteEndObject();
        }

        string json = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        return Failure is null ? BuiltinToolResult.Ok(json) : BuiltinToolResult.Error(Failure + " " + json);
    }
}
