using System.Net.Sockets;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>A client that pipelines requests but never reads replies is cut off at the per-connection buffer limit.</summary>
[Collection(HostileCollection.Name)]
public sealed class BufferLimitTests
{
    private const long Limit = 256 * 1024;

    [Fact]
    public async Task Client_that_never_reads_is_closed_at_the_buffer_limit()
    {
        await using var server = await HostileServer.StartAsync(o => o.MaxBufferedBytesPerConnection = Limit);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        string? peer = null;
        long sentBytes = 0;
        await server.UnderAttackAsync(async () =>
        {
            using var setup = await RawClient.ConnectAsync(server.Port);
            await setup.SendAsync(RawClient.Set("/big", new string('b', 32 * 1024)));
            await setup.SendAsync(RawClientFrames.Ping(7));
            await setup.ReceiveExactlyAsync(4);

            using var greedy = await RawClient.ConnectAsync(server.Port);
            peer = greedy.Socket.LocalEndPoint!.ToString();
            greedy.Socket.ReceiveBufferSize = 4096;
            var batch = RawClientFrames.Concat(Enumerable.Repeat(RawClient.Get("/big"), 64).ToArray());
            // 64 MiB of replies requested at most; the kernel's socket buffers hold a few MiB, the rest must hit the limit.
            try
            {
                for (var i = 0; i < 32 && server.Metrics.Closed(CloseReason.BufferLimit) == 0; i++)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    sentBytes += await greedy.Socket.SendAsync(batch, SocketFlags.None, cts.Token);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // Reset by the server or blocked by a full window after the close: either way, stop sending.
            }

            await HostileServer.EventuallyAsync(() => server.Metrics.Closed(CloseReason.BufferLimit) == 1, "the greedy client was not closed at the buffer limit");
        });

        Assert.Equal(1, server.Log.CountContaining(peer!, nameof(CloseReason.BufferLimit)));
        await server.AssertHealthyAsync();
        var grown = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        Assert.True(grown < 16 * 1024 * 1024, $"managed heap grew by {grown} bytes after sending {sentBytes}");
    }

    [Fact]
    public async Task Frame_larger_than_the_buffer_limit_is_refused_before_it_arrives()
    {
        // The value limit (8 MiB) exceeds the buffer limit here: the buffer limit wins, on the header alone.
        await using var server = await HostileServer.StartAsync(o => o.MaxBufferedBytesPerConnection = Limit);
        using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(RawClientFrames.SetWithValueLength("/k", (ulong)Limit + 1));
        Assert.True(await client.IsClosedByServerAsync());
        await HostileServer.EventuallyAsync(() => server.Metrics.Closed(CloseReason.BufferLimit) == 1, "not counted as BufferLimit");
    }

    [Fact]
    public async Task One_request_asking_for_a_reply_over_the_limit_is_refused_without_building_it()
    {
        // MULTI_GET naming one 64 KiB value 2,000 times asks for 128 MiB from a 20 KiB request.
        await using var server = await HostileServer.StartAsync(o => o.MaxBufferedBytesPerConnection = Limit);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        await server.UnderAttackAsync(async () =>
        {
            using var attacker = await RawClient.ConnectAsync(server.Port);
            await attacker.SendAsync(RawClient.Set("/big", new string('b', 64 * 1024)));
            await attacker.SendAsync(RawClient.Multi(TcpStore.Codec.QueryType.MultiGet, Enumerable.Repeat("/big", 2000).ToArray()));
            Assert.True(await attacker.IsClosedByServerAsync());
        });

        Assert.Equal(1, server.Metrics.Closed(CloseReason.BufferLimit));
        await server.AssertHealthyAsync();
        var grown = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        Assert.True(grown < 16 * 1024 * 1024, $"managed heap grew by {grown} bytes");
    }
}
