using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>Shared run state: the phase every connection reads, set by the driver.</summary>
public sealed class RunPhase
{
    private int _value;

    /// <summary>0 = warm-up (not counted), 1 = measuring, 2 = stop issuing.</summary>
    public int Value
    {
        get => Volatile.Read(ref _value);
        set => Volatile.Write(ref _value, value);
    }
}

/// <summary>
/// One closed-loop client connection keeping <c>depth</c> requests in flight: every reply that
/// comes back is answered with a new request in the next write. Replies arrive in request order,
/// so a ring of (kind, send time) per slot is enough to time them.
/// </summary>
public sealed class LoadConnection : IDisposable
{
    private const byte KindGet = 0;
    private const byte KindSet = 1;
    private const byte KindAdd = 2;

    private readonly Workload _workload;
    private readonly RequestCatalog _catalog;
    private readonly RunPhase _phase;
    private readonly Socket _socket;
    private readonly Random _random;
    private readonly byte[] _receive = new byte[64 * 1024];
    private readonly PooledBufferWriter _send = new();
    private readonly byte[] _kinds;
    private readonly long[] _started;
    private int _head;
    private int _inFlight;

    private LoadConnection(Workload workload, RequestCatalog catalog, RunPhase phase, Socket socket, int seed)
    {
        _workload = workload;
        _catalog = catalog;
        _phase = phase;
        _socket = socket;
        _random = new Random(seed);
        _kinds = new byte[workload.Depth];
        _started = new long[workload.Depth];
    }

    /// <summary>Latencies of replies completed while measuring.</summary>
    public LatencyHistogram Latencies { get; } = new();

    /// <summary>Replies completed while measuring.</summary>
    public long Completed { get; private set; }

    /// <summary>Why the connection stopped early, if it did.</summary>
    public string? Failure { get; private set; }

    /// <summary>Connects and validates.</summary>
    public static async Task<LoadConnection> ConnectAsync(IPEndPoint server, IPAddress? source, Workload workload, RequestCatalog catalog, RunPhase phase, int seed, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(server, source, cancellationToken).ConfigureAwait(false);
        using var validate = new PooledBufferWriter();
        RequestWriter.WriteValidate(validate);
        await socket.SendAsync(validate.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        return new LoadConnection(workload, catalog, phase, socket, seed);
    }

    /// <summary>Opens a TCP connection (optionally from a given 127.0.0.x source address).</summary>
    public static async Task<Socket> ConnectSocketAsync(IPEndPoint server, IPAddress? source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
            {
                // IP_BIND_ADDRESS_NO_PORT: pick the port at connect time per 4-tuple, not per address,
                // so one source address serves far more than the ephemeral range's worth of bindings.
                socket.SetRawSocketOption(0, 24, BitConverter.GetBytes(1));
                socket.Bind(new IPEndPoint(source, 0));
            }

            await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes SET for every key (pipelined) and waits until the server has applied them.</summary>
    public async Task PopulateAsync(CancellationToken cancellationToken)
    {
        for (var k = 0; k < _catalog.Sets.Length; k++)
        {
            _send.Write(_catalog.Sets[k]);
            if (_send.WrittenCount > 32 * 1024 || k == _catalog.Sets.Length - 1)
            {
                await _socket.SendAsync(_send.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                _send.Clear();
            }
        }

        // One CHECK reply per SET+CHECK frame.
        var expected = _catalog.Sets.Length;
        while (expected > 0)
        {
            var n = await _socket.ReceiveAsync(_receive, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("server closed the connection while populating");
            }

            expected -= n;
        }
    }

    /// <summary>Runs the closed loop until the phase says stop, then drains what is in flight.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var buffered = 0;
        try
        {
            Refill();
            await _socket.SendAsync(_send.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            _send.Clear();
            while (_inFlight > 0)
            {
                var n = await _socket.ReceiveAsync(_receive.AsMemory(buffered), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    Failure = "server closed the connection";
                    return;
                }

                buffered += n;
                var consumed = ConsumeReplies(_receive.AsSpan(0, buffered));
                if (consumed < 0)
                {
                    Failure = "unexpected reply";
                    return;
                }

                buffered -= consumed;
                if (buffered > 0)
                {
                    _receive.AsSpan(consumed, buffered).CopyTo(_receive);
                }

                if (_phase.Value < 2)
                {
                    Refill();
                    if (_send.WrittenCount > 0)
                    {
                        await _socket.SendAsync(_send.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                        _send.Clear();
                    }
                }
            }
        }
        catch (SocketException ex)
        {
            Failure = ex.SocketErrorCode.ToString();
        }
        catch (OperationCanceledException)
        {
            Failure ??= $"timed out with {_inFlight} replies outstanding";
        }
    }

    /// <summary>Closes with RST so no TIME_WAIT piles up between runs.</summary>
    public void Dispose()
    {
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }

        _socket.Dispose();
        _send.Release();
    }

    private void Refill()
    {
        var keys = _catalog.Gets.Length;
        var now = Stopwatch.GetTimestamp();
        while (_inFlight < _kinds.Length)
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
            _send.Write(frame);
            var slot = (_head + _inFlight) % _kinds.Length;
            _kinds[slot] = kind;
            _started[slot] = now;
            _inFlight++;
        }
    }

    // Returns bytes consumed by whole replies, or -1 on a reply that cannot be right.
    private int ConsumeReplies(ReadOnlySpan<byte> data)
    {
        var offset = 0;
        var measuring = _phase.Value == 1;
        var now = Stopwatch.GetTimestamp();
        while (_inFlight > 0)
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
            _inFlight--;
        }

        return offset;
    }
}
