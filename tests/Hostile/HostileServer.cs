using System.Net;
using TcpStore.Server;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// An in-process loopback server for attack tests, with a capturing logger and a healthy client
/// that keeps working (and checking its own data) for the whole attack.
/// </summary>
public sealed class HostileServer : IAsyncDisposable
{
    private HostileServer(TcpStoreServer server, CapturingLogger<TcpStoreServer> log)
    {
        Server = server;
        Log = log;
    }

    public TcpStoreServer Server { get; }

    public CapturingLogger<TcpStoreServer> Log { get; }

    public int Port => Server.Port;

    public ServerMetrics Metrics => Server.Metrics;

    public static async Task<HostileServer> StartAsync(Action<TcpStoreServerOptions>? configure = null)
    {
        var options = new TcpStoreServerOptions { Host = IPAddress.Loopback, Port = 0 };
        configure?.Invoke(options);
        var log = new CapturingLogger<TcpStoreServer>();
        var server = new TcpStoreServer(options, log);
        await server.StartAsync();
        return new HostileServer(server, log);
    }

    /// <summary>Runs <paramref name="attack"/> while a healthy client works; asserts the healthy client saw only correct answers.</summary>
    public async Task<HealthyClient.Report> UnderAttackAsync(Func<Task> attack, TimeSpan? timeout = null)
    {
        await using var healthy = await HealthyClient.StartAsync(Port);
        await EventuallyAsync(() => healthy.Rounds > 0 || healthy.Faulted, "healthy client did not get going");
        await attack().WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        // It must also complete whole rounds after the attack, not only before it.
        var afterAttack = healthy.Rounds;
        await EventuallyAsync(() => healthy.Rounds >= afterAttack + 2 || healthy.Faulted, "healthy client stalled after the attack");
        var report = await healthy.StopAsync();
        Assert.True(report.Failure is null, $"healthy client failed during the attack: {report.Failure}");
        Assert.True(report.Operations > 0, "healthy client made no progress during the attack");
        return report;
    }

    /// <summary>Polls until <paramref name="condition"/> holds (bounded), then asserts it.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(condition(), what);
    }

    /// <summary>Asserts the server still serves a fresh client and holds no connection beyond <paramref name="expectedActive"/>.</summary>
    public async Task AssertHealthyAsync(long expectedActive = 0)
    {
        await EventuallyAsync(() => Metrics.Active == expectedActive, $"active connections {Metrics.Active}, expected {expectedActive}");
        using var probe = await Support.RawClient.ConnectAsync(Port);
        await probe.SendAsync(RawClientFrames.Ping(0x1234_5678));
        Assert.Equal(0x1234_5678u, BitConverter.ToUInt32(await probe.ReceiveExactlyAsync(4)));
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
