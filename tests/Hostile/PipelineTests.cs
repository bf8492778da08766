using System.Buffers.Binary;
using System.Net.Sockets;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Heavy but legal pipelining: a million requests on one connection, replies read concurrently.</summary>
[Collection(HostileCollection.Name)]
public sealed class PipelineTests
{
    private const int Requests = 1_000_000;

    [Fact]
    public async Task A_million_pipelined_adds_are_answered_in_order()
    {
        await using var server = await HostileServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        var frame = RawClient.Add("/pipelined", 1);
        await server.UnderAttackAsync(
            async () =>
            {
                var send = Task.Run(async () =>
                {
                    // 4,096 requests per send: big enough to pipeline deeply, small enough to interleave with reads.
                    var batch = RawClientFrames.Concat(Enumerable.Repeat(frame, 4096).ToArray());
                    for (var sent = 0; sent < Requests; sent += 4096)
                    {
                        var count = Math.Min(4096, Requests - sent);
                        await client.SendAsync(count == 4096 ? batch : batch[..(count * frame.Length)]);
                    }
                });

                var buffer = new byte[64 * 1024];
                var pending = 0;
                long expected = 1;
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                while (expected <= Requests)
                {
                    var n = await client.Socket.ReceiveAsync(buffer.AsMemory(pending), SocketFlags.None, cts.Token);
                    Assert.True(n > 0, $"connection closed after {expected - 1} replies");
                    pending += n;
                    var whole = pending / 8 * 8;
                    for (var offset = 0; offset < whole; offset += 8, expected++)
                    {
                        var sum = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(offset));
                        Assert.True(sum == expected, $"reply {expected} was {sum}");
                    }

                    buffer.AsSpan(whole, pending - whole).CopyTo(buffer);
                    pending -= whole;
                }

                await send;
            },
            TimeSpan.FromSeconds(100),
            // The pipelining client is legitimate and lives in this process: its reader checks a
            // million replies on the same two cores and thread pool as the healthy client, which
            // measured 130-280 ms rounds here while the server serves light connections first.
            roundBound: TimeSpan.FromMilliseconds(300));

        Assert.Equal("1000000", System.Text.Encoding.ASCII.GetString(server.Server.Store.Get("/pipelined"u8)!));
        Assert.Equal(0, server.Metrics.Closed(CloseReason.BufferLimit));
    }
}
