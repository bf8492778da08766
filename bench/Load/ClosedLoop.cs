using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>
/// The engine-independent half of one closed-loop connection: which requests are in flight and
/// when they left, the receive buffer, reply parsing, latency recording and refilling. Both
/// engines (async sockets and the epoll loop) drive the same instance so they can only differ in
/// how bytes move, never in what is sent or how replies are counted.
/// </summary>
/// <remarks>
/// Replies arrive in request order, so a ring of (kind, send time) per in-flight slot is enough to
/// time them. Nothing here allocates once the send buffer has grown to its working size.
/// </remarks>
public sealed class ClosedLoop
{
    private const byte KindGet = 0;
    private const byte KindSet = 1;
    private const byte KindAdd = 2;

    private readonly Workload _workload;
    private readonly RequestCatalog _catalog;
    private readonly RunPhase _phase;
    private readonly Random _random;
    private readonly byte[] _receive = new byte[64 * 1024];
    private readonly byte[] _kinds;
    private readonly long[] _started;
    private int _buffered;
    private int _head;

    /// <summary>Creates the state for one connection; <paramref name="seed"/> fixes its key sequence.</summary>
    public ClosedLoop(Workload workload, RequestCatalog catalog, RunPhase phase, int seed)
    {
        ArgumentNullException.ThrowIfNull(workload);
        _workload = workload;
        _catalog = catalog;
        _phase = phase;
        _random = new Random(seed);
        _kinds = new byte[workload.Depth];
        _started = new long[workload.Depth];
    }

    /// <summary>Requests written (by <see cref="Refill"/>) whose replies have not been consumed.</summary>
    public int InFlight { get; private set; }

    /// <summary>Requests to send, appended by <see cref="Refill"/>; the engine sends and clears it.</summary>
    public PooledBufferWriter Send { get; } = new();

    /// <summary>Latencies of replies completed while measuring.</summary>
    public LatencyHistogram Latencies { get; } = new();

    /// <summary>Replies completed while measuring.</summary>
    public long Completed { get; private set; }

    /// <summary>Error replies (RESP <c>-ERR</c>) consumed; not counted in <see cref="Completed"/>.</summary>
    public long ErrorReplies { get; private set; }

    /// <summary>The first error reply's text, if any.</summary>
    public string? FirstError { get; private set; }

    /// <summary>GETs answered "no such key" (RESP <c>$-1</c>); counted in <see cref="Completed"/>, but after populating there should be none.</summary>
    public long Misses { get; private set; }

    /// <summary>Why the connection stopped early, if it did.</summary>
    public string? Failure { get; set; }

    /// <summary>Whether new requests may still be issued (the driver has not said stop).</summary>
    public bool Issuing => _phase.Value < 2;

    /// <summary>Where the next receive should write: the free tail of the receive buffer.</summary>
    public Memory<byte> ReceiveSpace => _receive.AsMemory(_buffered);

    /// <summary>
    /// Accounts for <paramref name="received"/> bytes just written into <see cref="ReceiveSpace"/>:
    /// consumes every whole reply, records its latency and keeps a partial one for next time.
    /// </summary>
    /// <returns>False (with <see cref="Failure"/> set) on a reply that cannot be right.</returns>
    public bool OnReceived(int received)
    {
        _buffered += received;
        var data = _receive.AsSpan(0, _buffered);
        var consumed = _catalog.Wire == RequestWire.Resp ? ConsumeRespReplies(data) : ConsumeReplies(data);
        if (consumed < 0)
        {
            Failure = "unexpected reply";
            return false;
        }

        _buffered -= consumed;
        if (_buffered > 0)
        {
            _receive.AsSpan(consumed, _buffered).CopyTo(_receive);
        }

        if (_buffered == _receive.Length)
        {
            Failure = "reply larger than the receive buffer";
            return false;
        }

        return true;
    }

    /// <summary>Appends requests to <see cref="Send"/> until <c>depth</c> are in flight.</summary>
    public void Refill()
    {
        var keys = _catalog.Gets.Length;
        var now = Stopwatch.GetTimestamp();
        while (InFlight < _kinds.Length)
        {
            var key = _random.Next(keys);
            var kind = _workload.Op switch
            {
                LoadOp.Get => KindGet,
                LoadOp.Set => KindSet,
                LoadOp.Add => KindAdd,
                _ => _random.NextDouble() < _workload.GetRatio ? KindGet : KindSet,
            };
            var frame = kind switch
            {
                KindGet => _catalog.Gets[key],
                KindSet => _catalog.Sets[key],
                _ => _catalog.Adds[key],
            };
            Send.Write(frame);
            var slot = (_head + InFlight) % _kinds.Length;
            _kinds[slot] = kind;
            _started[slot] = now;
            InFlight++;
        }
    }

    // Returns bytes consumed by whole replies, or -1 on a reply that cannot be right.
    private int ConsumeReplies(ReadOnlySpan<byte> data)
    {
        var offset = 0;
        var measuring = _phase.Value == 1;
        var now = Stopwatch.GetTimestamp();
        while (InFlight > 0)
        {
            int size;
            switch (_kinds[_head])
            {
                case KindGet:
                    if (data.Length - offset < 8)
                    {
                        return offset;
                    }

                    var length = BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);
                    if (length != (ulong)_catalog.Value.Length)
                    {
                        return -1;
                    }

                    size = 8 + (int)length;
                    break;
                case KindSet:
                    size = 1;
                    break;
                default:
                    size = 8;
                    break;
            }

            if (data.Length - offset < size)
            {
                return offset;
            }

            if (_kinds[_head] == KindSet && data[offset] != Protocol.CheckReady)
            {
                return -1;
            }

            offset += size;
            if (measuring)
            {
                Latencies.Record((long)((now - _started[_head]) * (1e9 / Stopwatch.Frequency)));
                Completed++;
            }

            _head = (_head + 1) % _kinds.Length;
            InFlight--;
        }

        return offset;
    }

    // The RESP twin of ConsumeReplies: each reply must be what its request can produce (a bulk
    // string of the value's size or null for GET, a simple string for SET, an integer for INCRBY),
    // or an error, which is counted and reported instead of failing the connection.
    private int ConsumeRespReplies(ReadOnlySpan<byte> data)
    {
        var offset = 0;
        var measuring = _phase.Value == 1;
        var now = Stopwatch.GetTimestamp();
        while (InFlight > 0)
        {
            var size = RespReply.Measure(data[offset..], out var type, out var value);
            if (size <= 0)
            {
                return size < 0 ? -1 : offset;
            }

            var expected = _kinds[_head] switch
            {
                KindGet => type == RespReplyType.Null || (type == RespReplyType.Bulk && value == _catalog.Value.Length),
                KindSet => type == RespReplyType.Simple,
                _ => type == RespReplyType.Integer,
            };
            if (type == RespReplyType.Error)
            {
                ErrorReplies++;
                FirstError ??= RespReply.ErrorText(data.Slice(offset, size));
            }
            else if (!expected)
            {
                return -1;
            }
            else
            {
                if (type == RespReplyType.Null)
                {
                    Misses++;
                }

                if (measuring)
                {
                    Latencies.Record((long)((now - _started[_head]) * (1e9 / Stopwatch.Frequency)));
                    Completed++;
                }
            }

            offset += size;
            _head = (_head + 1) % _kinds.Length;
            InFlight--;
        }

        return offset;
    }
}
