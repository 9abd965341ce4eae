using System.Text;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>Collects a program's stdout and stderr, keeping the first <c>limit</c> characters of each and noting the cut.</summary>
internal sealed class OutputCapture(int limit)
{
    private readonly Capped _stdout = new(limit);
    private readonly Capped _stderr = new(limit);

    /// <summary>Whether either stream was cut.</summary>
    public bool Truncated => _stdout.Dropped || _stderr.Dropped;

    public void Stdout(ReadOnlySpan<char> text) => _stdout.Append(text);

    public void Stderr(ReadOnlySpan<char> text) => _stderr.Append(text);

    public string StdoutText => _stdout.Text;

    public string StderrText => _stderr.Text;

    private sealed class Capped(int limit)
    {
        private readonly StringBuilder _text = new();

        public bool Dropped { get; private set; }

        public string Text => Dropped ? _text + $"\n[output truncated: only the first {limit:N0} characters are kept]" : _text.ToString();

        public void Append(ReadOnlySpan<char> text)
        {
            lock (_text)
            {
                int room = limit - _text.Length;
                if (text.Length > room)
                {
                    Dropped = true;
                    text = text[..Math.Max(room, 0)];
                }

                _text.Append(text);
            }
        }
    }
}
