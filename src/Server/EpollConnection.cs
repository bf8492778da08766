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
/// backpressure the connection asks its loop for write readiness instead of blocking, and above the
/// high-water mark it stops asking for read readiness until its output drains.
/// </remarks>
internal sealed class EpollConnection : Connection
{
    /// <summary>A turn that reads this much makes the connection <see cref="Heavy"/>; a client sending
    /// one request at a time stays far below it.</summary>
    private const int HeavyTurnBytes = 4 * 1024;

    private readonly EpollLoop _loop;
    private int _flushQueued;
    private int _resumeOffset;
    private bool _waitingWritable;
    private bool _writeWatched;

    /// <summary>Creates a connection of <paramref name="loop"/> with no socket yet (see <see cref="Open"/>).</summary>
    public EpollConnection(TcpStoreServer server, ConnectionSettings settings, EpollLoop loop)
        : base(server, settings)
    {
        _loop = loop;
    }

    /// <summary>The socket's descriptor (owned: closed by the loop when the connection closes); -1 before <see cref="Open"/>.</summary>
    public int Fd { get; private set; } = -1;

    /// <summary>The loop that serves this connection, in every life of a pooled object.</summary>
    public EpollLoop Loop => _loop;

    /// <summary>Whether the connection has closed (for its loop, which skips closed connections).</summary>
    public bool Closed => IsClosed;

    /// <summary>This connection's key in its loop (the epoll event's data).</summary>
    public long Id { get; set; }

    /// <summary>
    /// Whether the last turn ended on the pass budget, with input possibly left: the loop gives the
    /// connection further turns from its run queue (see <see cref="EpollLoop"/>).
    /// </summary>
    public bool HasMore { get; private set; }

    /// <summary>
    /// Whether the last turn read a lot (at least <see cref="HeavyTurnBytes"/>): the loop serves the
    /// connection's next readiness from its run queue, after the light connections.
    /// </summary>
    public bool Heavy { get; private set; }

    /// <summary>Whether the connection waits in its loop's run queue (owned by the loop).</summary>
    public bool Queued { get; set; }

    /// <summary>The readiness this connection wants from its loop now.</summary>
    public uint Interest => (ReadPaused ? 0 : Epoll.In | Epoll.RdHup) | (_writeWatched ? Epoll.Out : 0);

    public override string Peer => LinuxSockets.PeerName(Fd);

    /// <summary>
    /// The socket is readable: receive and process, on the loop thread, until the kernel has no more
    /// (one short read says it is drained), the pass budget is spent, or output passed the
    /// high-water mark. Level-triggered epoll reports whatever is left on the next pass, after the
    /// loop's other connections had their turn.
    /// </summary>
    public void OnReadable(byte[] scratch)
    {
        HasMore = false;
        Heavy = false;
        if (IsClosed || ReadPaused)
        {
            return;
        }

        var parseBudget = ParseBudgetBytes;
        var copyBudget = CopyBudgetBytes;
        CloseReason reason;
        string detail;
        while (true)
        {
            if (HasUnprocessedInput)
            {
                // Requests a previous step left for lack of reply allowance come before new bytes.
                if (!Received(0, default, out reason, out detail))
                {
                    break;
                }

                parseBudget -= UnprocessedStepCharge;
                Heavy = true;
                if (ReadPaused)
                {
                    return;
                }

                if (parseBudget <= 0)
                {
                    HasMore = true;
                    return;
                }

                continue;
            }

            var intoScratch = !HasPartialInput;
            var target = intoScratch ? scratch.AsSpan(0, Math.Min(scratch.Length, parseBudget)) : InputFreeSpace(copyBudget).Span;
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

            if (!Received(received, intoScratch ? scratch : default, out reason, out detail))
            {
                break;
            }

            if (intoScratch)
            {
                parseBudget -= received;
            }
            else
            {
                copyBudget -= received;
            }

            Heavy = parseBudget <= ParseBudgetBytes - HeavyTurnBytes || copyBudget <= CopyBudgetBytes - HeavyTurnBytes;
            if (ReadPaused)
            {
                return;
            }

            if (parseBudget <= 0 || copyBudget <= 0)
            {
                HasMore = true;
                return;
            }

            if (intoScratch && received < target.Length && !HasUnprocessedInput)
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
            _loop.UpdateInterest(this);
        }
    }

    /// <summary>Takes the accepted socket <paramref name="fd"/> (a new or reset connection, before its loop watches it).</summary>
    public void Open(int fd)
    {
        Fd = fd;
        Opened();
    }

    /// <summary>
    /// Runs a flush that <see cref="ScheduleFlush"/> queued for life <paramref name="generation"/>, on the
    /// loop thread; nothing when the object has moved on to another connection since.
    /// </summary>
    public void FlushFromLoop(long generation)
    {
        if (generation != Generation)
        {
            // Queued for the closed connection this object served before: the flag is the new one's.
            return;
        }

        Volatile.Write(ref _flushQueued, 0);
        Flush(generation);
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
            _loop.UpdateInterest(this);
        }
    }

    // Both run on the loop thread (the receive path and every send run there).
    protected override void OnReadingPaused() => _loop.UpdateInterest(this);

    protected override void OnReadingResumed()
    {
        // Once closed the descriptor may already be gone (and its number reused): leave it alone.
        if (!IsClosed)
        {
            _loop.UpdateInterest(this);
            if (HasUnprocessedInput)
            {
                // Requests already received need a turn even if the socket never becomes readable.
                _loop.Enqueue(this);
            }
        }
    }

    protected override void CloseTransport() => _loop.Release(this);

    protected override void ResetTransport()
    {
        Fd = -1;
        Id = 0;
        _flushQueued = 0;
        _resumeOffset = 0;
        _waitingWritable = false;
        _writeWatched = false;
        HasMore = false;
        Heavy = false;
        Queued = false;
    }
}
