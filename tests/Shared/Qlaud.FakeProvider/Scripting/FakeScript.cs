using System.Text;

namespace Qlaud.FakeProvider;

/// <summary>
/// Replies scripted by content: each rule holds a marker and a queue of replies, and a chat request whose body
/// contains the marker takes the next reply of the first such rule that has replies left.
/// </summary>
/// <remarks>
/// A process-mode test cannot reach the in-memory queue, and a real client may send requests of its own (a title, a
/// quota probe) in between: matching a marker the test put in its prompt gives each conversation its own replies,
/// whatever else arrives. Later turns of the same conversation repeat the earlier ones, so they match too and take
/// the rule's next reply (a tool call first, then the answer after the tool result). Thread-safe.
/// </remarks>
internal sealed class FakeScript
{
    private readonly Lock _lock = new();
    private readonly List<Rule> _rules = [];

    /// <summary>Replies left in all rules.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                var count = 0;
                foreach (var rule in _rules)
                {
                    count += rule.Replies.Count;
                }

                return count;
            }
        }
    }

    /// <summary>Adds a rule after the existing ones.</summary>
    /// <param name="match">The text a request body must contain (as UTF-8 bytes of the raw JSON); empty matches every chat request.</param>
    /// <param name="replies">The replies, in the order requests take them.</param>
    public void Add(string match, IReadOnlyList<FakeReply> replies)
    {
        ArgumentNullException.ThrowIfNull(match);
        ArgumentNullException.ThrowIfNull(replies);
        lock (_lock)
        {
            _rules.Add(new Rule(Encoding.UTF8.GetBytes(match), new Queue<FakeReply>(replies)));
        }
    }

    /// <summary>Forgets every rule.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _rules.Clear();
        }
    }

    /// <summary>Takes the next reply of the first rule whose marker <paramref name="body"/> contains; false when none matches.</summary>
    public bool TryTake(ReadOnlySpan<byte> body, out FakeReply reply)
    {
        lock (_lock)
        {
            for (var i = 0; i < _rules.Count; i++)
            {
                var rule = _rules[i];
                if (rule.Replies.Count == 0 || (rule.Match.Length > 0 && body.IndexOf(rule.Match) < 0))
                {
                    continue;
                }

                reply = rule.Replies.Dequeue();
                if (rule.Replies.Count == 0)
                {
                    _rules.RemoveAt(i);
                }

                return true;
            }
        }

        reply = null!;
        return false;
    }

    private sealed record Rule(byte[] Match, Queue<FakeReply> Replies);
}
