using System.Text;
using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary>The same request paths over both transports (epoll loops, the default, and .NET sockets).</summary>
public sealed class TransportTests
{
    public static TheoryData<ServerTransport> Transports => new() { ServerTransport.Epoll, ServerTransport.Sockets };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Pipelined_requests_sent_one_byte_at_a_time_get_their_replies_in_order(ServerTransport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var client = await RawClient.ConnectAsync(server.Port);
        var stream = RawClient.Set("/k", "v1").Concat(RawClient.Add("/n", 7)).Concat(RawClient.Get("/k")).ToArray();
        foreach (var b in stream)
        {
            await client.SendAsync([b]);
        }

        Assert.Equal(7, await client.ReadInt64Async());
        Assert.Equal("v1", Encoding.UTF8.GetString(await client.ReadBlobAsync()));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_large_value_split_across_many_reads_round_trips(ServerTransport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var client = await RawClient.ConnectAsync(server.Port);
        var value = new string('x', 3 * 1024 * 1024);
        await client.SendAsync(RawClient.Set("/big", value));
        await client.SendAsync(RawClient.Get("/big"));
        Assert.Equal(value.Length, (await client.ReadBlobAsync()).Length);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_wait_is_released_by_another_connection_and_bad_input_closes_only_its_sender(ServerTransport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var setter = await RawClient.ConnectAsync(server.Port);
        using var bad = await RawClient.ConnectAsync(server.Port);
        await waiter.SendAsync(RawClient.Multi(QueryType.Wait, "/ready"));
        await bad.SendAsync([0xEE]);
        Assert.True(await bad.IsClosedByServerAsync());
        Assert.True(await waiter.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(100)));
        await setter.SendAsync(RawClient.Set("/ready", "1"));
        Assert.Equal(Protocol.StopWaiting, await waiter.ReadByteAsync());
        Assert.Equal(1, server.Server.Metrics.Closed(CloseReason.UnknownCommand));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Replies_larger_than_the_socket_buffers_arrive_whole_and_in_order_when_the_reader_is_late(ServerTransport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var client = await RawClient.ConnectAsync(server.Port);
        var a = new string('a', 2 * 1024 * 1024);
        var b = new string('b', 2 * 1024 * 1024);
        await client.SendAsync(RawClient.Set("/a", a).Concat(RawClient.Set("/b", b)).ToArray());

        // Several megabytes of replies with nobody reading: the server's sends hit a full socket
        // buffer and must resume, in order, once the reader catches up.
        await client.SendAsync(RawClient.Get("/a").Concat(RawClient.Get("/b")).Concat(RawClient.Get("/a")).Concat(RawClient.Add("/n", 5)).ToArray());
        await Task.Delay(300);
        Assert.Equal(a, Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        Assert.Equal(b, Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        Assert.Equal(a, Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        Assert.Equal(5, await client.ReadInt64Async());
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task One_set_releases_every_waiter_exactly_once_and_each_can_go_on(ServerTransport transport)
    {
        const int Waiters = 300;

        // Three loops on the epoll transport, so most wake-ups cross from the setter's loop to another
        // (through its queue and eventfd) whatever the machine's processor count.
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.EventLoops = 3;
        });
        var waiters = new List<RawClient>();
        try
        {
            for (var i = 0; i < Waiters; i++)
            {
                var waiter = await RawClient.ConnectAsync(server.Port);
                waiters.Add(waiter);
                await waiter.SendAsync(RawClient.Multi(QueryType.Wait, "/go"));
            }

            // Every WAIT is registered (not answered on arrival) before the SET, so all go through the wake path.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (WaitersOn(server, "/go") < Waiters && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }

            Assert.Equal(Waiters, WaitersOn(server, "/go"));
            using var setter = await RawClient.ConnectAsync(server.Port);
            await setter.SendAsync(RawClient.Set("/go", "1").Concat(RawClient.Add("/after", 1)).ToArray());
            Assert.Equal(1, await setter.ReadInt64Async());

            foreach (var waiter in waiters)
            {
                Assert.Equal(Protocol.StopWaiting, await waiter.ReadByteAsync(TimeSpan.FromSeconds(20)));
            }

            // Each released connection is usable, and received exactly one STOP_WAITING.
            for (var i = 0; i < waiters.Count; i++)
            {
                await waiters[i].SendAsync(RawClient.Add("/after", 1));
            }

            var seen = new HashSet<long>();
            foreach (var waiter in waiters)
            {
                Assert.True(seen.Add(await waiter.ReadInt64Async()));
            }

            Assert.Equal(Enumerable.Range(2, Waiters).Select(v => (long)v).ToHashSet(), seen);
        }
        finally
        {
            foreach (var waiter in waiters)
            {
                waiter.Dispose();
            }
        }
    }

    private static int WaitersOn(TestServer server, string key) =>
        server.Server.Store.AwaitedKeys().Where(p => Encoding.UTF8.GetString(p.Key) == key).Sum(p => p.Value);
}
