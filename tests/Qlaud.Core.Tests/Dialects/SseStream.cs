using System.Text;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;

namespace Qlaud.Core.Tests.Dialects;

/// <summary>Feeds a recorded server-sent event stream to a decoder, event by event, the way the relay does.</summary>
internal static class SseStream
{
    public static List<ChatResponseUpdate> Decode(IStreamDecoder decoder, string stream)
    {
        var updates = new List<ChatResponseUpdate>();
        foreach (var (eventType, data) in Events(stream))
        {
            decoder.Decode(Encoding.UTF8.GetBytes(eventType), Encoding.UTF8.GetBytes(data), updates);
        }

        return updates;
    }

    public static List<(string EventType, string Data)> Events(string stream)
    {
        var events = new List<(string, string)>();
        foreach (var block in stream.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var eventType = "";
            var data = new StringBuilder();
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    eventType = line["event:".Length..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }

                    data.Append(line["data:".Length..].TrimStart());
                }
            }

            if (data.Length > 0)
            {
                events.Add((eventType, data.ToString()));
            }
        }

        return events;
    }
}
