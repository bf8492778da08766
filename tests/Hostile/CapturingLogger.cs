using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace TcpStore.Tests.Hostile;

/// <summary>An <see cref="ILogger{T}"/> that keeps every formatted line so tests can assert what operators would see.</summary>
public sealed class CapturingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");

    public int CountContaining(params string[] parts) => _lines.Count(line => parts.All(p => line.Contains(p, StringComparison.Ordinal)));
}
