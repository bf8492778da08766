using System.Text;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Differential;

/// <summary>
/// Byte-level differential: the same pipelined request stream, written with our encoder, sent raw
/// to the real libuv server and to ours; the reply bytes (up to the close, if a bad ADD closes the
/// connection) must be identical. Reaches what the real client never sends: GET and MULTI_GET of
/// missing keys, pops of missing queues, binary keys, many requests per read.
/// WAIT is left out: a second WAIT while one is pending is handled differently on purpose (libuv keeps
/// the old registrations under the new count; we replace the wait), and self-wake order has its own
/// test (SelfWakeOrderTests). LIST_KEYS is left out too (hash order).
/// </summary>
public sealed partial class LibUvRandomSequenceTests
{
    private static readonly byte[][] RawKeys = ["a"u8.ToArray(), "/b"u8.ToArray(), [0x00, 0xFF], []];

    private static readonly byte[][] RawValues = [[], "1"u8.ToArray(), "-7"u8.ToArray(), " 12x"u8.ToArray(), "abc"u8.ToArray(), "9223372036854775807"u8.ToArray()];

    internal static Gen<WireRequest> RawRequest
    {
        get
        {
            var key = Gen.Elements(RawKeys);
            var value = Gen.Frequency((8, Gen.Elements(RawValues.Where(v => v.Length == 0 || v[0] != (byte)'a'))), (1, Gen.Constant("abc"u8.ToArray())));
            var keys = Gen.Choose(0, 3).SelectMany(n => Gen.ArrayOf(key, n));
            return Gen.Frequency(
                (4, Gen.Zip(key, value).Select(t => WireRequest.KeyValue(QueryType.Set, t.Item1, t.Item2))),
                (2, Gen.Zip(key, value).Select(t => WireRequest.KeyValue(QueryType.Append, t.Item1, t.Item2))),
                (3, key.Select(k => WireRequest.KeyOnly(QueryType.Get, k))),
                (3, Gen.Zip(key, Gen.Elements(1L, -2L, long.MaxValue)).Select(t => WireRequest.Add(t.Item1, t.Item2))),
                (3, from k in key from e in value from d in value select WireRequest.CompareSet(k, e, d)),
                (2, key.Select(k => WireRequest.KeyOnly(QueryType.DeleteKey, k))),
                (2, keys.Select(k => WireRequest.Multi(QueryType.Check, k))),
                (2, keys.Select(k => WireRequest.Multi(QueryType.MultiGet, k))),
                (2, keys.SelectMany(k => Gen.ArrayOf(value, k.Length).Select(v => WireRequest.MultiSet(k, v)))),
                (1, Gen.Constant(WireRequest.Bare(QueryType.GetNumKeys))),
                (1, Gen.Constant(WireRequest.Bare(QueryType.CancelWait))),
                (1, WireGenerators.AnyUInt.Select(n => WireRequest.Ping(n & 0x7F7F7F7F))),
                (3, Gen.Zip(key, value).Select(t => WireRequest.KeyValue(QueryType.QueuePush, t.Item1, t.Item2))),
                (3, key.Select(k => WireRequest.KeyOnly(QueryType.QueuePop, k))),
                (1, key.Select(k => WireRequest.KeyOnly(QueryType.QueueLength, k))));
        }
    }

    [Fact]
    public void Raw_pipelined_streams_get_byte_identical_replies_from_the_libuv_server_and_ours()
    {
        var streams = Gen.Choose(1, 60).SelectMany(n => Gen.ArrayOf(RawRequest, n));
        using var comparison = new RawStreamComparison(pair, 0xF1E2D3C4, "ours");
        var property = Prop.ForAll(streams.ToArbitrary(), requests => Task.Run(() => comparison.CompareAsync(requests)).GetAwaiter().GetResult());
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), property);
    }

    internal static async Task<RawClient> ConnectRawAsync(int port)
    {
        // VALIDATE first and on its own (libuv's first read is special, PROTOCOL.md §3), confirmed by a PING.
        var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(Replies.Encode(WireRequest.Ping(1)));
        await client.ReceiveExactlyAsync(4, TimeSpan.FromSeconds(20));
        return client;
    }

    /// <summary>Sends the stream and reads until the sentinel's echo ends the replies, or the server closes.</summary>
    internal static async Task<(byte[] Replies, bool Closed)> ExchangeAsync(RawClient client, byte[] bytes, uint sentinel)
    {
        await client.SendAsync(bytes);
        var end = Replies.UInt32(sentinel);
        var received = new List<byte>();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            int n;
            try
            {
                n = await client.Socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token);
            }
            catch (System.Net.Sockets.SocketException)
            {
                return ([.. received], true);
            }

            if (n == 0)
            {
                return ([.. received], true);
            }

            received.AddRange(buffer.AsSpan(0, n));
            if (received.Count >= 4 && received.TakeLast(4).SequenceEqual(end))
            {
                return ([.. received[..^4]], false);
            }
        }
    }
}
