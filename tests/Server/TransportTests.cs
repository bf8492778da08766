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
}
