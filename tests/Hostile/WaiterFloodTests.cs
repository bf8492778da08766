using System.Diagnostics;
using TcpStore.Server;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// 10,000 clients WAIT and vanish without CANCEL_WAIT: every registration must go with them.
/// </summary>
/// <remarks>
/// The server stays in this process (so the test can read <c>Store.AwaitedKeyCount</c> directly)
/// and the 10,000 client sockets live in a child process (<c>TcpStore.Fuzz waiters</c>): with both
/// ends here the test would need 20,000 descriptors, the per-process limit on this machine.
/// </remarks>
[Collection(HostileCollection.Name)]
public sealed class WaiterFloodTests
{
    private const int Waiters = 10_000;

    [Fact]
    public async Task Ten_thousand_waiters_that_disconnect_leave_the_wait_registry_empty()
    {
        await using var server = await HostileServer.StartAsync();
        var store = server.Server.Store;
        await server.UnderAttackAsync(
            async () =>
            {
                using var flood = StartFlood(server.Port);
                try
                {
                    var registered = await flood.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
                    Assert.Equal($"registered {Waiters}", registered);
                    // One unique key per waiter plus the shared key, and a waiter per connection.
                    await HostileServer.EventuallyAsync(() => store.AwaitedKeyCount == Waiters + 1, $"awaited keys {store.AwaitedKeyCount}", TimeSpan.FromSeconds(30));
                    Assert.True(server.Metrics.Active >= Waiters, $"{server.Metrics.Active} active");

                    await flood.StandardInput.WriteLineAsync("go");
                    await flood.StandardInput.FlushAsync();
                    Assert.Equal("closed", await flood.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
                    await HostileServer.EventuallyAsync(() => store.AwaitedKeyCount == 0, $"awaited keys {store.AwaitedKeyCount} after disconnect", TimeSpan.FromSeconds(30));
                    await flood.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
                }
                finally
                {
                    if (!flood.HasExited)
                    {
                        flood.Kill();
                    }
                }
            },
            TimeSpan.FromSeconds(120),
            // Measured 160-560 ms: 10,000 connections connect and then close within a few hundred
            // milliseconds, and every close retires its waits from the store (a registry shared with
            // the other 9,999) on the loop thread. Bounded here so a regression to seconds fails.
            roundBound: TimeSpan.FromMilliseconds(750));

        Assert.Equal(0, store.AwaitedKeyCount);
        // The ones that reset are socket errors, the rest ordinary closes; none is a protocol error.
        // (Up to 2 more are the healthy client's own connections closing.)
        Assert.InRange(server.Metrics.Closed(CloseReason.ClientClosed) + server.Metrics.Closed(CloseReason.SocketError), Waiters, Waiters + 2);
        await server.AssertHealthyAsync();
    }

    private static Process StartFlood(int port)
    {
        var tool = Path.Combine(AppContext.BaseDirectory, "TcpStore.Fuzz.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { tool, "waiters", port.ToString(System.Globalization.CultureInfo.InvariantCulture), Waiters.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }
}
