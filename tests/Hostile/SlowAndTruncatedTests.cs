using System.Text;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Partial frames: a client that stops mid-frame or sends one byte a second holds only its own connection.</summary>
[Collection(HostileCollection.Name)]
public sealed class SlowAndTruncatedTests
{
    [Fact]
    public async Task Truncated_frames_then_disconnect_leave_nothing_behind()
    {
        await using var server = await HostileServer.StartAsync();
        await server.UnderAttackAsync(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                using var attacker = await RawClient.ConnectAsync(server.Port);
                var set = RawClient.Set("/truncated", new string('x', 1000));
                // Cut at a different point each time: inside the command, a length, or the payload.
                await attacker.SendAsync(set[..(1 + (i * 37 % (set.Length - 1)))]);
                attacker.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
                Assert.True(await attacker.IsClosedByServerAsync());
            }
        });

        // 50 truncated clients, plus up to 2 for the healthy client's own connections closing.
        await HostileServer.EventuallyAsync(() => server.Metrics.Closed(CloseReason.ClientClosed) >= 50, "50 truncated clients not counted as closed");
        Assert.InRange(server.Metrics.Closed(CloseReason.ClientClosed), 50, 52);
        Assert.Null(server.Server.Store.Get(Encoding.UTF8.GetBytes("/truncated")));
        await server.AssertHealthyAsync();
    }

    [Fact]
    public async Task Slowloris_trickling_one_byte_a_second_delays_nobody_else()
    {
        await using var server = await HostileServer.StartAsync();
        using var slow = await RawClient.ConnectAsync(server.Port);
        var frame = RawClientFrames.Ping(0xCAFE_F00D);
        var report = await server.UnderAttackAsync(async () =>
        {
            // Four of the five bytes, a second apart (bounded to ~4 s), then the last one.
            for (var i = 0; i < frame.Length - 1; i++)
            {
                await slow.SendAsync(frame[i..(i + 1)]);
                await Task.Delay(TimeSpan.FromSeconds(1));
                Assert.True(await slow.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(10)), "a partial frame was answered");
            }

            await slow.SendAsync(frame[^1..]);
            Assert.Equal(0xCAFE_F00Du, BitConverter.ToUInt32(await slow.ReceiveExactlyAsync(4)));
        });

        // The healthy client kept completing rounds the whole time, each far below the trickle's pace.
        Assert.True(report.Operations >= 40, $"only {report.Operations} healthy operations in ~4 s");
        Assert.True(report.SlowestRound < TimeSpan.FromSeconds(1), $"a healthy round took {report.SlowestRound}");
        Assert.Equal(0, server.Metrics.Closed(CloseReason.BufferLimit));
    }
}
