using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Server.Linux;

namespace TcpStore.Server;

/// <summary>
/// A connection on an <see cref="EpollLoop"/>: a raw non-blocking descriptor whose whole request path
/// (receive, parse, execute, send) and whose wake-up flushes all run on its loop's thread, so the
/// send side never changes hands between threads.
/// </summary>
/// <remarks>
/// Idle connections hold no buffer: the loop receives into one scratch buffer shared by all its
/// connections, and only a partial frame is copied into a per-connection pooled buffer. Under
/// backpressure the connection asks its loop for write readiness instead of blocking.
/// </remarks>
internal sealed class EpollConnection : Connection
{
    private readonly EpollLoop _loop;
    private int _flushQueued;
    private int _resumeOffset;
    private bool _waitingWritable;
    private bool _writeWatched;

    public EpollConnection(TcpStoreServer server, int fd, EpollLoop loop, KeyValueStore store, CodecLimits limits, long maxBuffered)
        : base(server, store, limits, maxBuffered)
    {
        Fd = fd;
        _loop = loop;
    }

    /// <summary>The socket's descriptor (owned: closed by the loop when the connection closes).</summary>
    public int Fd { get; }

    /// <summary>This connection's key in its loop (the epoll event's data).</summary>
    public long Id { get; set; }

    public override string Peer => LinuxSockets.PeerName(Fd);

    /// <summary>
    /// The socket is readable: receive and process until the kernel has no more (or one short read
    /// says it is drained; level-triggered epoll reports any rest), on the loop thread.
    /// </summary>
    public void OnReadable(byte[] scratch)
    {
        if (IsClosed)
        {
            return;
        }

        CloseReason reason;
        string detail;
        while (true)
        {
            var intoScratch = InputCount == 0;
            var target = intoScratch ? scratch.AsSpan() : Input.AsSpan(InputCount);
            var received = LinuxSockets.Receive(Fd, target);
            if (received < 0)
            {
                if (received == -LinuxSockets.EAgain)
                {
                    return;
                }

                reason = CloseReason.SocketError;
                detail = "recv: errno " + -received;
                break;
            }

            if (received == 0)
            {
                reason = CloseReason.ClientClosed;
                detail = string.Empty;
                break;
            }

            SessionResult result;
            if (intoScratch)
            {
                result = Session.Process(scratch.AsSpan(0, received));
                var rest = received - result.Consumed;
                if (rest > 0 && result.Error == ProtocolError.None)
                {
                    KeepPartial(scratch.AsSpan(result.Consumed, rest));
                }
            }
            else
            {
                InputCount += received;
                if (InputCount < InputNeeded)
                {
                    if (!EnsureInputSpace(out detail))
                    {
                        reason = CloseReason.BufferLimit;
                        break;
                    }

                    continue;
                }

                result = Session.Process(Input.AsSpan(0, InputCount));
                Compact(result.Consumed);
            }

            if (!AfterProcess(result, out reason, out detail))
            {
                break;
            }

            if (intoScratch && received < scratch.Length)
            {
                return;
            }
        }

        Close(reason, detail);
        ReturnInput();
    }

    /// <summary>The socket is writable again: resume the send that the kernel's full buffer stopped.</summary>
    public void OnWritable()
    {
        if (_waitingWritable && !IsClosed)
        {
            _waitingWritable = false;
            SendPending(_resumeOffset);
        }

        if (!_waitingWritable && _writeWatched && !IsClosed)
        {
            _writeWatched = false;
            _loop.WatchWritable(this, false);
        }
    }

    /// <summary>Runs a flush that <see cref="ScheduleFlush"/> queued, on the loop thread.</summary>
    public void FlushFromLoop()
    {
        Volatile.Write(ref _flushQueued, 0);
        Flush();
    }

    protected override void ScheduleFlush()
    {
        if (Interlocked.Exchange(ref _flushQueued, 1) == 0)
        {
            _loop.ScheduleFlush(this);
        }
    }

    protected override bool TrySend(ReadOnlySpan<byte> data, out int sent, out string error)
    {
        var result = LinuxSockets.Send(Fd, data);
        if (result >= 0)
        {
            sent = result;
            error = string.Empty;
            return true;
        }

        sent = 0;
        if (result == -LinuxSockets.EAgain)
        {
            error = string.Empty;
            return true;
        }

        error = "errno " + -result;
        return false;
    }

    protected override void SendLater(int offset)
    {
        _resumeOffset = offset;
        _waitingWritable = true;
        if (!_writeWatched)
        {
            _writeWatched = true;
            _loop.WatchWritable(this, true);
        }
    }

    protected override void CloseTransport() => _loop.Release(this);
}
