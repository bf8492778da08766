using TcpStore.Codec;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Server;

/// <summary>Requests arrive in any chunking (PROTOCOL.md §1, §9.11): pipelined, byte by byte, split VALIDATE.</summary>
public sealed class StreamingTests
{
    private static byte[] K(string text) => RawClient.Key(text);

    [Fact]
    public async Task Pipelined_requests_in_one_send_are_answered_in_order_and_flushed_in_one_segment()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Encode(WireRequest.Ping(1)));
        await client.ReceiveExactlyAsync(4);

        var requests = new List<WireRequest>();
        var expected = new List<byte[]>();
        for (var i = 0; i < 100; i++)
        {
            var key = K($"k{i % 7}");
            requests.Add(WireRequest.Add(key, i));
            requests.Add(WireRequest.Ping((uint)i));
            requests.Add(WireRequest.KeyOnly(QueryType.Get, key));
        }

        var sums = new long[7];
        for (var i = 0; i < 100; i++)
        {
            sums[i % 7] += i;
            expected.Add(Int64(sums[i % 7]));
            expected.Add(UInt32((uint)i));
            expected.Add(Blob(sums[i % 7].ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var before = TcpInfo.Read(client.Socket);
        await client.SendAsync(Encode([.. requests]));
        var replies = Concat([.. expected]);
        Assert.Equal(Convert.ToHexString(replies), Convert.ToHexString(await client.ReceiveExactlyAsync(replies.Length)));
        var after = TcpInfo.Read(client.Socket);

        // The offsets are right if the byte counter agrees with what was just read.
        Assert.Equal((ulong)replies.Length, after.BytesReceived - before.BytesReceived);
        Assert.Equal(1u, after.DataSegmentsIn - before.DataSegmentsIn);
    }

    [Fact]
    public async Task Requests_sent_one_byte_at_a_time_are_parsed_and_answered()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        var bytes = Encode(
            WireRequest.Validate(),
            WireRequest.KeyValue(QueryType.Set, K("slow"), K("value")),
            WireRequest.MultiSet([K("m")], [K("1")]),
            WireRequest.Multi(QueryType.MultiGet, [K("slow"), K("m")]),
            WireRequest.Add(K("m"), 41),
            WireRequest.Ping(7));
        foreach (var b in bytes)
        {
            await client.SendAsync([b]);
            await Task.Delay(1);
        }

        var expected = Concat(Blob("value"), Blob("1"), Int64(42), UInt32(7));
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(await client.ReceiveExactlyAsync(expected.Length)));
    }

    [Fact]
    public async Task VALIDATE_split_across_reads_is_accepted()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        var validate = Encode(WireRequest.Validate());
        await client.SendAsync(validate[..2]);
        await Task.Delay(100);
        await client.SendAsync(validate[2..]);
        await Task.Delay(50);
        await client.SendAsync(Encode(WireRequest.Ping(0xABCD)));
        Assert.Equal(UInt32(0xABCD), await client.ReceiveExactlyAsync(4));
        Assert.Equal(0, server.Server.Metrics.Closed(TcpStore.Server.CloseReason.NotValidated));
    }

    [Fact]
    public async Task A_large_value_in_many_small_sends_arrives_whole()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        var value = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31)).ToArray();
        var bytes = Encode(WireRequest.KeyValue(QueryType.Set, K("big"), value), WireRequest.KeyOnly(QueryType.Get, K("big")));
        for (var offset = 0; offset < bytes.Length; offset += 7_001)
        {
            await client.SendAsync(bytes[offset..Math.Min(bytes.Length, offset + 7_001)]);
        }

        Assert.Equal(value, await client.ReadBlobAsync());
    }

    [Fact]
    public async Task Replies_far_larger_than_the_socket_buffer_arrive_complete_and_in_order_with_a_late_wake_last()
    {
        // A high-water mark above the 10 MB of replies: reading goes on, so the WAIT behind them is
        // registered before the wake (at the default 1 MiB the server stops reading first, and the
        // WAIT would find its key already set; the client would read the same bytes).
        await using var server = await TestServer.StartAsync(o => o.OutputHighWaterBytes = 16 * 1024 * 1024);
        using var client = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        var values = Enumerable.Range(0, 4).Select(i => Enumerable.Repeat((byte)('a' + i), 100_000).ToArray()).ToArray();
        await client.SendAsync(Encode([.. values.Select((v, i) => WireRequest.KeyValue(QueryType.Set, K($"v{i}"), v))]));

        // ~10 MB of replies queue up while the client reads nothing; then a wake from another connection.
        await client.SendAsync(Encode([.. Enumerable.Range(0, 100).Select(i => WireRequest.KeyOnly(QueryType.Get, K($"v{i % 4}"))), WireRequest.Multi(QueryType.Wait, [K("late")])]));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("late"), K("1"))));

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(values[i % 4], await client.ReadBlobAsync());
        }

        Assert.Equal(Protocol.StopWaiting, await client.ReadByteAsync());
        Assert.True(await client.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(30)));
    }
}
