using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Server;

/// <summary>
/// Pooled connections (<see cref="TcpStoreServerOptions.PoolConnections"/>): a closed connection's
/// object serves the next accepted connection, and nothing of its old life reaches the new one.
/// </summary>
public sealed class ConnectionPoolTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    public static TheoryData<ServerTransport> Transports => new() { ServerTransport.Epoll, ServerTransport.Sockets };

    private static byte[] K(string text) => RawClient.Key(text);

    private static Task<TestServer> StartAsync(ServerTransport transport, bool pool, LegacyProtocol legacy = LegacyProtocol.Torch113) =>
        TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.EventLoops = 1;
            o.PoolConnections = pool;
            o.LegacyProtocol = legacy;
        });

    private static async Task<Connection> OnlyConnectionAsync(TestServer server)
    {
        Assert.True(await Eventually.TrueAsync(() => server.Server.OpenConnections.Count == 1));
        return server.Server.OpenConnections.Single();
    }

    // Closes the client and waits until the server has reset its connection for reuse.
    private static async Task<long> CloseAndAwaitRecycleAsync(RawClient client, Connection connection)
    {
        var generation = connection.Generation;
        client.Dispose();
        Assert.True(await Eventually.TrueAsync(() => connection.Generation != generation), "the closed connection was not reset for reuse");
        return generation;
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_wait_of_a_closed_connection_never_wakes_the_connection_that_reuses_its_object(ServerTransport transport)
    {
        await using var server = await StartAsync(transport, pool: true);
        var first = await RawClient.ConnectAsync(server.Port);
        await first.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("k")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        var reused = await OnlyConnectionAsync(server);
        await CloseAndAwaitRecycleAsync(first, reused);
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);

        using var second = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await second.SendAsync(Encode(WireRequest.Ping(7)));
        Assert.Equal(UInt32(7), await second.ReceiveExactlyAsync(4));
        Assert.Contains(reused, server.Server.OpenConnections);

        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("k"), K("v")), WireRequest.Ping(1)));
        Assert.Equal(UInt32(1), await writer.ReceiveExactlyAsync(4));
        Assert.True(await second.NothingArrivesWithinAsync(Quiet), "the new connection got the closed one's STOP_WAITING");

        // Its own wait works: the session is no longer retired, and is validated anew.
        await second.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("other")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("other"), K("v"))));
        Assert.Equal(Protocol.StopWaiting, await second.ReadByteAsync());
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_reused_connection_must_validate_again(ServerTransport transport)
    {
        // Without pre-2.2 detection, so that a first request other than VALIDATE is refused as such.
        await using var server = await StartAsync(transport, pool: true, LegacyProtocol.Off);
        var first = await RawClient.ConnectAsync(server.Port);
        await first.SendAsync(Encode(WireRequest.Ping(3)));
        Assert.Equal(UInt32(3), await first.ReceiveExactlyAsync(4));
        var reused = await OnlyConnectionAsync(server);
        await CloseAndAwaitRecycleAsync(first, reused);

        using var unvalidated = await RawClient.ConnectAsync(server.Port, validate: false);
        await unvalidated.SendAsync(Encode(WireRequest.Ping(4)));
        Assert.True(await unvalidated.IsClosedByServerAsync());

        // The socket closes before the counter moves.
        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Closed(CloseReason.NotValidated) == 1));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_close_aimed_at_a_closed_connection_does_not_close_the_one_that_reuses_its_object(ServerTransport transport)
    {
        await using var server = await StartAsync(transport, pool: true);
        var first = await RawClient.ConnectAsync(server.Port);
        var reused = await OnlyConnectionAsync(server);
        var stale = await CloseAndAwaitRecycleAsync(first, reused);

        using var second = await RawClient.ConnectAsync(server.Port);
        await second.SendAsync(Encode(WireRequest.Ping(5)));
        Assert.Equal(UInt32(5), await second.ReceiveExactlyAsync(4));
        Assert.Contains(reused, server.Server.OpenConnections);

        // What the send-timeout sweep does with a connection it found before it closed.
        reused.Close(stale, CloseReason.SendTimeout, "stale");
        await second.SendAsync(Encode(WireRequest.Ping(6)));
        Assert.Equal(UInt32(6), await second.ReceiveExactlyAsync(4));
        Assert.Equal(0, server.Server.Metrics.Closed(CloseReason.SendTimeout));

        reused.Close(reused.Generation, CloseReason.SendTimeout, "current");
        Assert.True(await second.IsClosedByServerAsync());
        Assert.Equal(1, server.Server.Metrics.Closed(CloseReason.SendTimeout));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Without_pooling_every_connection_is_a_new_object(ServerTransport transport)
    {
        await using var server = await StartAsync(transport, pool: false);
        var first = await RawClient.ConnectAsync(server.Port);
        var closed = await OnlyConnectionAsync(server);
        var generation = closed.Generation;
        first.Dispose();
        Assert.True(await Eventually.TrueAsync(() => server.Server.OpenConnections.Count == 0));

        using var second = await RawClient.ConnectAsync(server.Port);
        var next = await OnlyConnectionAsync(server);
        Assert.NotSame(closed, next);
        Assert.Equal(generation, closed.Generation);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_connection_another_thread_is_still_closing_is_not_reused_under_it(ServerTransport transport)
    {
        await using var server = await StartAsync(transport, pool: true);
        var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Encode(WireRequest.Ping(1)));
        Assert.Equal(UInt32(1), await client.ReceiveExactlyAsync(4));
        var connection = await OnlyConnectionAsync(server);
        var generation = connection.Generation;

        // A close from another thread (as a server stop makes) that is held up half way: the
        // session's retirement takes every shard lock, and the test holds one.
        // (A thread of its own holds it: a Lock belongs to the thread that took it.)
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            var gate = server.Server.Store.ShardGate(0);
            gate.Enter();
            held.Set();
            release.Wait();
            gate.Exit();
        });
        holder.Start();
        Task closing;
        try
        {
            held.Wait();
            using var started = new ManualResetEventSlim();
            closing = Task.Run(() =>
            {
                started.Set();
                connection.Close(CloseReason.ServerStopping, "test");
            });

            // The close must have won before the peer goes away (else the receive path closes it).
            started.Wait();
            await Task.Delay(Quiet);
            Assert.False(closing.IsCompleted, "the close did not stop at the held shard lock");

            // Meanwhile the peer goes away: the receive path ends and offers the connection to the pool.
            client.Dispose();
            await Task.Delay(Quiet * 2);
            Assert.Equal(generation, connection.Generation);
        }
        finally
        {
            release.Set();
            holder.Join();
        }

        // The close finishes on the transport of the life it closed (it used to dispose of a reset
        // connection's missing socket: a NullReferenceException on the sockets transport). Once it
        // has finished, reuse is fair: the epoll transport may recycle the object at any moment now.
        await closing;
        using var next = await RawClient.ConnectAsync(server.Port);
        await next.SendAsync(Encode(WireRequest.Ping(2)));
        Assert.Equal(UInt32(2), await next.ReceiveExactlyAsync(4));
    }
}
