using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Qlaud.Threads;

namespace Qlaud.Benchmarks;

/// <summary>
/// The context-window step of a thread turn: fitting <see cref="HistoryTurns"/> earlier turns and the new user message to
/// the model's window, as <c>ThreadTurnEngine</c> does before every call.
/// </summary>
/// <remarks>
/// Baseline: every message tokenized on every turn (<see cref="ContextWindow.Fit(IReadOnlyList{ValueTuple{string, string}}, long, long, long)"/>).
/// <c>StoredCounts</c>: the stored messages carry the count made when they were stored, and only the new message is
/// tokenized, as a turn does now. Both fit the same messages to the same window and must choose the same first message.
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class ContextWindowBenchmarks
{
    private const string NewTurn = "Given all that, which two cities would you pick for a first visit in May, and why?";

    private List<(string Role, string ContentJson)> _raw = null!;
    private List<ContextMessage> _stored = null!;
    private string _newTurn = null!;

    /// <summary>Earlier turns (a user message and a reply each).</summary>
    [Params(10, 100)]
    public int HistoryTurns { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _raw = [];
        for (int i = 0; i < HistoryTurns; i++)
        {
            _raw.Add(("user", Blocks($"Question {i}: I am planning a trip through Italy for two weeks in May. What should I know about trains between Rome, Florence and Venice, and is it worth booking ahead?")));
            _raw.Add(("assistant", Blocks($"Answer {i}: Trains between Rome, Florence and Venice are fast and frequent: the high-speed Frecciarossa and Italo services take about 1 h 30 min from Rome to Florence and 2 h from Florence to Venice. Booking a few weeks ahead saves money on the fixed-price fares, while regional trains need no booking at all. Validate paper tickets for regional trains before boarding, keep an eye on strikes announced in advance, and leave an hour of slack when a connection matters.")));
        }

        _newTurn = Blocks(NewTurn);
        _stored = [.. _raw.Select(static (m, i) => new ContextMessage(m.Role, m.ContentJson, ContextWindow.Estimate(m.Role, m.ContentJson), i))];
        if (EveryMessageCounted() != StoredCounts())
        {
            throw new InvalidOperationException("The two ways of fitting disagree.");
        }
    }

    [Benchmark(Baseline = true)]
    public int EveryMessageCounted()
    {
        var messages = new List<(string Role, string ContentJson)>(_raw.Count + 1);
        messages.AddRange(_raw);
        messages.Add(("user", _newTurn));
        return ContextWindow.Fit(messages, 0, 1024, 200_000).First;
    }

    [Benchmark]
    public int StoredCounts()
    {
        var messages = new List<ContextMessage>(_stored.Count + 1);
        messages.AddRange(_stored);
        messages.Add(new ContextMessage("user", _newTurn, ContextWindow.Estimate("user", _newTurn)));
        return ContextWindow.Fit(messages, 0, 1024, 200_000).First;
    }

    private static string Blocks(string text) => JsonSerializer.Serialize(new[] { new Dictionary<string, string> { ["type"] = "text", ["text"] = text } });
}
