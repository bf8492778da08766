using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary>
/// The log catalogue (<see cref="ServerLog"/>) and its table in docs/limits.md say the same thing in both
/// directions, and a real server writes its lines under the catalogue's event ids.
/// </summary>
public sealed partial class LogCatalogueTests
{
    private static readonly string LimitsPath = Path.Combine(FindRoot(), "docs", "limits.md");

    [Fact]
    public void The_catalogue_has_entries_with_unique_ids_and_names()
    {
        var entries = CodeEntries();
        Assert.True(entries.Count >= 10, $"only {entries.Count} catalogue entries");
        Assert.Equal(entries.Count, entries.Select(e => e.Id).Distinct().Count());
        Assert.Equal(entries.Count, entries.Select(e => e.Name).Distinct().Count());
        Assert.All(entries, e => Assert.True(e.Id > 0, $"{e.Name} has no explicit event id"));
    }

    [Fact]
    public void Every_catalogue_entry_is_in_docs_limits_md_with_the_same_name_level_and_message()
    {
        var documented = DocEntries().ToDictionary(e => e.Id);
        foreach (var entry in CodeEntries())
        {
            Assert.True(documented.TryGetValue(entry.Id, out var row), $"event {entry.Id} ({entry.Name}) is not in docs/limits.md's log catalogue");
            Assert.Equal(entry, row);
        }
    }

    [Fact]
    public void Every_row_of_the_documented_catalogue_is_an_event_in_code()
    {
        var rows = DocEntries();
        Assert.NotEmpty(rows);
        Assert.Equal(rows.Count, rows.Select(r => r.Id).Distinct().Count());
        var code = CodeEntries().ToDictionary(e => e.Id);
        foreach (var row in rows)
        {
            Assert.True(code.TryGetValue(row.Id, out var entry), $"docs/limits.md lists event {row.Id} ({row.Name}), which the catalogue does not have");
            Assert.Equal(entry, row);
        }
    }

    [Fact]
    public void The_server_library_logs_only_through_the_catalogue()
    {
        // A direct ILogger call (LogWarning, Log(...)) would be a line no operator can find in the table.
        var root = FindRoot();
        var offenders = new[] { "src/Server", "src/Hosting", "src/Admin" }
            .SelectMany(dir => Directory.EnumerateFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(file => DirectLogCall().IsMatch(File.ReadAllText(file)))
            .Select(file => Path.GetRelativePath(root, file))
            .ToList();
        Assert.Empty(offenders);
    }

    [Theory]
    [InlineData(ServerTransport.Epoll)]
    [InlineData(ServerTransport.Sockets)]
    public async Task A_protocol_violation_and_a_stop_are_logged_under_their_catalogue_ids(ServerTransport transport)
    {
        var provider = new RecordingProvider();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(provider));
        var options = new TcpStoreServerOptions { Host = IPAddress.Loopback, Port = 0, Transport = transport };
        await using (var server = new TcpStoreServer(options, factory.CreateLogger<TcpStoreServer>()))
        {
            await server.StartAsync(TestContext.Current.CancellationToken);
            using (var bad = await RawClient.ConnectAsync(server.Port))
            {
                await bad.SendAsync([18]);
                Assert.True(await bad.IsClosedByServerAsync(), "unknown command left the connection open");
            }

            Assert.True(await Eventually.TrueAsync(() => provider.Events.Any(e => e.Id.Id == 200)), string.Join("\n", provider.Events));
            var closed = provider.Events.Single(e => e.Id.Id == 200);
            Assert.Equal("ConnectionClosed", closed.Id.Name);
            Assert.Equal(LogLevel.Warning, closed.Level);
            Assert.Equal("TcpStore.Server.TcpStoreServer", closed.Category);
            Assert.Equal(nameof(CloseReason.UnknownCommand), closed.Properties["Reason"]);
            Assert.StartsWith("closed connection from 127.0.0.1:", closed.Text, StringComparison.Ordinal);
            await server.StopAsync(TestContext.Current.CancellationToken);
        }

        var stopped = Assert.Single(provider.Events, e => e.Id.Id == 101);
        Assert.Equal("Stopped", stopped.Id.Name);
        var catalogued = CodeEntries().Select(e => e.Id).ToHashSet();
        Assert.All(provider.Events, e => Assert.Contains(e.Id.Id, catalogued));
    }

    private static List<Entry> CodeEntries() =>
        [.. typeof(ServerLog).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .OfType<LoggerMessageAttribute>()
            .Select(a => new Entry(a.EventId, a.EventName ?? "", a.Level.ToString(), a.Message))];

    private static List<Entry> DocEntries()
    {
        var text = File.ReadAllText(LimitsPath).ReplaceLineEndings("\n");
        var start = text.IndexOf("\n## Log catalogue\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/limits.md has no '## Log catalogue' section");
        var end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? text[start..] : text[start..end];
        return [.. CatalogueRow().Matches(section).Select(m => new Entry(
            int.Parse(m.Groups["id"].Value, System.Globalization.CultureInfo.InvariantCulture),
            m.Groups["name"].Value,
            m.Groups["level"].Value,
            m.Groups["message"].Value))];
    }

    private static string FindRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "TcpStore.sln")))
        {
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("TcpStore.sln not found above the test binaries");
        }

        return dir;
    }

    // A table row: | 200 | `Name` | Warning | `template` | (or ``template`` when the template holds a backtick).
    [GeneratedRegex(@"^\| (?<id>\d+) \| `(?<name>\w+)` \| (?<level>\w+) \| (?<q>`{1,2}) ?(?<message>.+?) ?\k<q> \|$", RegexOptions.Multiline)]
    private static partial Regex CatalogueRow();

    [GeneratedRegex(@"\.Log(Trace|Debug|Information|Warning|Error|Critical)?\s*\(")]
    private static partial Regex DirectLogCall();

    private sealed record Entry(int Id, string Name, string Level, string Message);

    private sealed record Event(string Category, LogLevel Level, EventId Id, string Text, IReadOnlyDictionary<string, string?> Properties);

    /// <summary>Records every event with its id and structured properties, as a real provider would receive them.</summary>
    private sealed class RecordingProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<Event> _events = new();

        public IReadOnlyCollection<Event> Events => _events;

        public ILogger CreateLogger(string categoryName) => new Recorder(categoryName, _events);

        public void Dispose()
        {
        }

        private sealed class Recorder(string category, ConcurrentQueue<Event> events) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs
                    ? pairs.ToDictionary(p => p.Key, p => p.Value?.ToString())
                    : [];
                events.Enqueue(new Event(category, logLevel, eventId, formatter(state, exception), properties));
            }
        }
    }
}
