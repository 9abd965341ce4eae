using System.Text;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects;

/// <summary>
/// Folds the <see cref="ToolCallDeltaContent"/> fragments of one streamed assistant turn into whole
/// <see cref="FunctionCallContent"/> items, with the arguments parsed to a dictionary.
/// </summary>
/// <remarks>
/// Fragments are matched to a call by <see cref="ToolCallDeltaContent.Index"/>. A fragment that brings a different call id
/// for an index already in use starts a new call (some OpenAI-compatible hosts number every parallel call 0).
/// Calls come out in the order their first fragment arrived. Arguments text that is not a JSON object is kept, see
/// <see cref="CanonicalJson.CreateFunctionCall"/>. Not thread-safe: one accumulator per stream.
/// </remarks>
internal sealed class ToolCallAccumulator
{
    private readonly List<PendingCall> _calls = [];

    /// <summary>The number of calls seen since the last <see cref="Complete"/>.</summary>
    public int Count => _calls.Count;

    /// <summary>Adds one fragment.</summary>
    public void Add(ToolCallDeltaContent delta)
    {
        ArgumentNullException.ThrowIfNull(delta);

        var call = Find(delta.Index);
        if (call is null || (delta.CallId is not null && call.CallId is not null && !string.Equals(delta.CallId, call.CallId, StringComparison.Ordinal)))
        {
            call = new PendingCall(delta.Index);
            _calls.Add(call);
        }

        call.CallId ??= delta.CallId;
        call.Name ??= delta.Name;
        if (delta.ArgumentsDelta.Length > 0)
        {
            call.Arguments.Append(delta.ArgumentsDelta);
        }
    }

    /// <summary>
    /// Takes the fragments out of <paramref name="update"/>'s contents; when the update ends the turn (it has a
    /// <see cref="ChatResponseUpdate.FinishReason"/>), appends the whole calls to it.
    /// </summary>
    /// <returns>False when nothing is left in the update worth passing on (it carried only fragments).</returns>
    public bool Process(ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);

        var contents = update.Contents;
        var kept = 0;
        for (var i = 0; i < contents.Count; i++)
        {
            if (contents[i] is ToolCallDeltaContent delta)
            {
                Add(delta);
            }
            else
            {
                contents[kept++] = contents[i];
            }
        }

        for (var i = contents.Count - 1; i >= kept; i--)
        {
            contents.RemoveAt(i);
        }

        if (update.FinishReason is not null && _calls.Count > 0)
        {
            var calls = Complete();
            for (var i = 0; i < calls.Count; i++)
            {
                contents.Add(calls[i]);
            }
        }

        return contents.Count > 0 || update.FinishReason is not null;
    }

    /// <summary>The whole calls, in the order they started; resets the accumulator.</summary>
    public List<FunctionCallContent> Complete()
    {
        var result = new List<FunctionCallContent>(_calls.Count);
        for (var i = 0; i < _calls.Count; i++)
        {
            var call = _calls[i];
            result.Add(CanonicalJson.CreateFunctionCall(
                call.CallId ?? $"call_{call.Index}",
                call.Name ?? "",
                call.Arguments.ToString()));
        }

        _calls.Clear();
        return result;
    }

    private PendingCall? Find(int index)
    {
        for (var i = _calls.Count - 1; i >= 0; i--)
        {
            if (_calls[i].Index == index)
            {
                return _calls[i];
            }
        }

        return null;
    }

    private sealed class PendingCall(int index)
    {
        public int Index { get; } = index;

        public string? CallId { get; set; }

        public string? Name { get; set; }

        public StringBuilder Arguments { get; } = new();
    }
}
