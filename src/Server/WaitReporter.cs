using System.Text;
using Microsoft.Extensions.Logging;
using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>
/// Periodically logs which keys connections are blocked on, so an operator looking at a hung
/// rendezvous sees what it is waiting for (for example the <c>store_based_barrier_key</c> of the
/// ranks that never arrived) without attaching a debugger. Silent while nobody waits.
/// </summary>
internal sealed class WaitReporter : IAsyncDisposable
{
    private const int KeysShown = 10;
    private readonly KeyValueStore _store;
    private readonly ILogger _logger;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;

    public WaitReporter(KeyValueStore store, ILogger logger, TimeSpan interval)
    {
        _store = store;
        _logger = logger;
        _timer = new PeriodicTimer(interval);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Formats the awaited keys, most-waited first; null when nobody waits.</summary>
    public static string? Describe(KeyValueStore store)
    {
        var awaited = store.AwaitedKeys();
        if (awaited.Count == 0)
        {
            return null;
        }

        awaited.Sort((a, b) => b.Value.CompareTo(a.Value));
        var text = new StringBuilder();
        text.Append(awaited.Count).Append(" key(s) awaited: ");
        for (var i = 0; i < Math.Min(KeysShown, awaited.Count); i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            text.Append(Printable(awaited[i].Key)).Append(" (").Append(awaited[i].Value).Append(" waiter");
            text.Append(awaited[i].Value == 1 ? ")" : "s)");
        }

        if (awaited.Count > KeysShown)
        {
            text.Append(", ...");
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        await _loop.ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        while (await _timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            if (Describe(_store) is { } line)
            {
                ServerLog.Waiting(_logger, line);
            }
        }
    }

    private static string Printable(byte[] key)
    {
        var text = Encoding.UTF8.GetString(key);
        return text.Any(char.IsControl) || text.Contains('\uFFFD', StringComparison.Ordinal)
            ? "0x" + Convert.ToHexString(key)
            : text;
    }
}
