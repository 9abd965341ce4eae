using Microsoft.Extensions.Logging;

namespace Qlaud.Core.Tests.Infrastructure;

/// <summary>A logger provider that hands every log event to a callback: for tests that wait for something to be logged.</summary>
internal sealed class LogSink(Action<string, LogLevel, EventId, string> onLog) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, onLog);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, Action<string, LogLevel, EventId, string> onLog) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => onLog(category, logLevel, eventId, formatter(state, exception));
    }
}
