using System.Net.Sockets;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// Clients that pipeline PINGs as fast as they can and never read a reply. The server must stop
/// reading each of them once its unsent output reaches the high-water mark, serve a healthy
/// neighbour on the same event loop without a noticeable stall throughout, and hold no more than a
/// bounded amount of memory per flooder.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class PipelineFloodTests
{
    // The target for the neighbour's slowest request; the probe adds the noise it measured without
    // the attack (on a loaded 2-core machine a thread can wait tens of ms for a core). A flooder that
    // holds the loop until it hits the 64 MiB buffer limit costs its neighbours 0.6-1 s.
    private static readonly TimeSpan NeighbourBound = TimeSpan.FromMilliseconds(50);
    private const long BytesPerFlooder = 2 * 1024 * 1024;

    public static TheoryData<ServerTransport, int> Cases => new()
    {
        { ServerTransport.Epoll, 1 },
        { ServerTransport.Epoll, 10 },
        { ServerTransport.Epoll, 100 },
        { ServerTransport.Sockets, 1 },
        { ServerTransport.Sockets, 10 },
        { ServerTransport.Sockets, 100 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Flooders_that_never_read_are_paused_and_do_not_stall_a_neighbour(ServerTransport transport, int flooders)
    {
        // One event loop: every flooder shares it with the neighbour, the worst case for fairness.
        await using var server = await HostileServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.EventLoops = 1;
        });
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        using var probe = await LatencyProbe.StartAsync(server.Port);
        await probe.MeasureQuietAsync(200);
        var start = probe.Count;

        using var stop = new CancellationTokenSource();
        var floods = new List<Flooder>();
        (TimeSpan Slowest, long Requests) attack;
        try
        {
            for (var i = 0; i < flooders; i++)
            {
                floods.Add(await Flooder.StartAsync(server.Port, stop.Token));
            }

            await HostileServer.EventuallyAsync(
                () => server.Metrics.ReadPauses >= flooders || probe.Failure is not null,
                $"{server.Metrics.ReadPauses} of {flooders} flooders were paused",
                TimeSpan.FromSeconds(60));
            // Measure on while every flooder sits at its high-water mark, too.
            await probe.RunAtLeastAsync(200);
            attack = probe.EndPhase(start);

            var held = server.Server.HeldBytes();
            Assert.True(held <= flooders * BytesPerFlooder, $"connections hold {held} bytes for {flooders} flooders");
            var grown = GC.GetTotalMemory(forceFullCollection: true) - baseline;
            Assert.True(grown <= flooders * BytesPerFlooder, $"the managed heap grew by {grown} bytes for {flooders} flooders");
            Assert.Equal((long)flooders, server.Metrics.ReadPauses);
            Assert.Equal(0, server.Metrics.Closed(CloseReason.BufferLimit));
            Assert.All(floods, f => Assert.True(f.Sent > 1024 * 1024, $"a flooder sent only {f.Sent} bytes"));
        }
        finally
        {
            await stop.CancelAsync();
        }

        // The machine's noise over as many requests as the attack phase had, once the flooders are gone.
        await HostileServer.EventuallyAsync(() => server.Metrics.Active == 1, "the flooders' connections were not closed");
        await probe.MeasureQuietAsync(attack.Requests);
        probe.StopAndAssert(attack, NeighbourBound, $"next to {flooders} flooders on {transport}");
        await server.AssertHealthyAsync(expectedActive: 1);
    }

    [Theory]
    [InlineData(ServerTransport.Epoll)]
    [InlineData(ServerTransport.Sockets)]
    public async Task A_peer_that_stops_reading_is_closed_at_the_send_timeout(ServerTransport transport)
    {
        var timeout = TimeSpan.FromMilliseconds(500);
        await using var server = await HostileServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.SendTimeout = timeout;
        });
        using var probe = await LatencyProbe.StartAsync(server.Port);
        await probe.MeasureQuietAsync(200);
        var start = probe.Count;
        using var stop = new CancellationTokenSource();
        using var flood = await Flooder.StartAsync(server.Port, stop.Token);
        await HostileServer.EventuallyAsync(() => server.Metrics.ReadPauses == 1, "the flooder was not paused");
        var paused = DateTime.UtcNow;
        await HostileServer.EventuallyAsync(() => server.Metrics.Closed(CloseReason.SendTimeout) == 1, "the stalled peer was not closed at the send timeout");
        var waited = DateTime.UtcNow - paused;
        Assert.True(waited < timeout + TimeSpan.FromSeconds(2), $"closed {waited.TotalMilliseconds:0} ms after the pause");
        await stop.CancelAsync();

        // The healthy neighbour has replies pending only briefly: it is never closed.
        await probe.RunAtLeastAsync(20);
        var attack = probe.EndPhase(start);
        await probe.MeasureQuietAsync(attack.Requests);
        probe.StopAndAssert(attack, NeighbourBound, "next to a peer closed at the send timeout");
        Assert.Equal(1, server.Log.CountContaining(flood.LocalEndPoint, nameof(CloseReason.SendTimeout)));
        Assert.Equal(0, server.Metrics.Closed(CloseReason.BufferLimit));
        await server.AssertHealthyAsync(expectedActive: 1);
    }

    /// <summary>
    /// A validated connection that sends 64 KiB batches of PINGs until stopped, never reading. It
    /// blocks in the kernel on a thread of its own, so a hundred of them add nothing to the thread
    /// pool that the sockets transport serves the neighbour on.
    /// </summary>
    private sealed class Flooder : IDisposable
    {
        private static readonly byte[] Batch = RawClientFrames.Concat(Enumerable.Repeat(RawClientFrames.Ping(0x5eed), 64 * 1024 / 5).ToArray());
        private readonly RawClient _client;
        private readonly Thread _thread;
        private long _sent;

        private Flooder(RawClient client)
        {
            _client = client;
            LocalEndPoint = client.Socket.LocalEndPoint!.ToString()!;
            _thread = new Thread(Loop) { IsBackground = true, Name = "flooder" };
            _thread.Start();
        }

        public string LocalEndPoint { get; }

        public long Sent => Interlocked.Read(ref _sent);

        public static async Task<Flooder> StartAsync(int port, CancellationToken stop)
        {
            var client = await RawClient.ConnectAsync(port);
            // Small kernel buffers on our side keep a hundred flooders from tying up much kernel memory.
            client.Socket.ReceiveBufferSize = 64 * 1024;
            client.Socket.SendBufferSize = 64 * 1024;
            var flooder = new Flooder(client);
            stop.Register(flooder.Dispose);
            return flooder;
        }

        public void Dispose() => _client.Dispose();

        private void Loop()
        {
            try
            {
                while (true)
                {
                    Interlocked.Add(ref _sent, _client.Socket.Send(Batch));
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Stopped, or closed by the server.
            }
        }
    }
}
