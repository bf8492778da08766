using System.Buffers;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>
/// What every transport's connection shares: the protocol session, the whole receive step (where
/// received bytes go, parsing, keeping a partial request between reads), the send path
/// (synchronous while the kernel takes the bytes, handed to the transport under backpressure),
/// flow control (not reading while too much output is unsent), the buffer limit, and closing
/// exactly once.
/// </summary>
/// <remarks>
/// Replies are sent at the end of each read, so everything one read produced leaves in one send.
/// Only the transport's receive path touches the input buffer; only the current owner of the send
/// side (the one that set the send-pending flag) touches the send buffer.
/// </remarks>
internal abstract partial class Connection : ISessionOwner
{
    /// <summary>
    /// Bytes of requests one connection may feed to its session in one pass of its transport before
    /// the others get their turn: 16 KiB of the smallest requests (PINGs) takes about 0.1 ms, so a
    /// pass over 100 busy connections stays near 10 ms.
    /// </summary>
    protected const int ParseBudgetBytes = 16 * 1024;

    /// <summary>
    /// Bytes of a large frame (say an 8 MiB SET) received per pass: copying needs no parsing, so the
    /// allowance is larger, but still bounded so a big upload does not hold a loop either.
    /// </summary>
    protected const int CopyBudgetBytes = 256 * 1024;

    /// <summary>
    /// What a turn is charged for processing requests already received but left unprocessed (see
    /// <see cref="HasUnprocessedInput"/>): such a step produces up to <see cref="ReplyBytesPerStep"/>.
    /// </summary>
    protected const int UnprocessedStepCharge = 8 * 1024;

    /// <summary>Size of the buffer rented when a partial request must be kept between reads.</summary>
    private const int InitialReceiveSize = 16 * 1024;

    // Replies one processing step may produce before it stops after a whole request: a few bytes of
    // GETs can ask for megabytes of replies, which would otherwise be built (and copied while the
    // buffer doubles onto the large-object heap) in one go. The rest of the input waits for the
    // connection's next turn.
    private const int ReplyBytesPerStep = 32 * 1024;

    // Replies made while a send is pending move out of the session into their own buffer once they
    // reach this size: unsent output is then a chain of buffers of about one read's replies each,
    // never one array that doubles until it lands on the large-object heap.
    private const int SegmentBytes = 16 * 1024;

    // Enough STOP_WAITING bytes for any burst of wake-ups to go out without a buffer.
    private static readonly byte[] StopWaitingBytes = CreateStopWaitingBytes(64);

    private readonly TcpStoreServer _server;
    private readonly ConnectionSettings _settings;
    private readonly PooledBufferWriter _sending = new();
    private Queue<PooledBufferWriter>? _queued;
    private long _queuedBytes;
    private int _blockedOffset;
    private long _stalledSince;
    private bool _sendPending;
    private bool _readPaused;
    private int _closed;

    // Set (under the send lock) once CloseOnce has run to its end. Another thread can win the close
    // (a server stop) while the receive loop sees the socket fail and hands the connection to the
    // pool: reusing it before that close has released the transport would let the close dispose of
    // the next life's socket (or of none). Guarded by the send lock.
    private bool _closeFinished;
    private byte[]? _input;
    private int _inputCount;
    private long _inputNeeded;
    private long _generation;

    /// <summary>Creates the connection's session.</summary>
    protected Connection(TcpStoreServer server, ConnectionSettings settings)
    {
        _server = server;
        _settings = settings;
        Session = new Session(settings.Store, settings.Limits, null, server.Engine)
        {
            // Bounds what one read can make the server buffer, even inside a single huge reply.
            MaxPendingOutputBytes = settings.MaxBuffered,
            ReplyBytesPerProcess = ReplyBytesPerStep,
            Owner = this,
            LegacyProtocol = server.LegacyProtocol,
        };
    }

    /// <summary>
    /// Which life of this object is current: a pooled connection serves one socket after another, and
    /// every reuse adds one. Work queued for a connection (a scheduled flush, a run-queue turn) carries
    /// the generation it was queued for and is dropped when it no longer matches, so nothing meant for
    /// a closed connection reaches the next user of the object.
    /// </summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>The peer's address, for log lines.</summary>
    public abstract string Peer { get; }

    /// <summary>
    /// When the send side last blocked (or last made progress while blocked), in
    /// <see cref="Environment.TickCount64"/> milliseconds; 0 while nothing waits for the peer to read.
    /// </summary>
    public long StalledSince => Volatile.Read(ref _stalledSince);

    /// <summary>The server-wide settings.</summary>
    protected ConnectionSettings Settings => _settings;

    /// <summary>The protocol state machine.</summary>
    protected Session Session { get; }

    /// <summary>Whether a partial request is kept between reads.</summary>
    protected bool HasPartialInput => _inputCount != 0;

    /// <summary>
    /// Whether received requests wait unprocessed (a step stopped at its reply allowance): the
    /// transport must call <see cref="Received"/> with no new bytes in the connection's next turn,
    /// whether or not the socket becomes readable.
    /// </summary>
    protected bool HasUnprocessedInput => _inputCount != 0 && _inputNeeded == 0;

    /// <summary>Whether reading is paused until unsent output drains below the low-water mark.</summary>
    protected bool ReadPaused => Volatile.Read(ref _readPaused);

    /// <summary>Whether <see cref="Close(CloseReason, string)"/> has run.</summary>
    protected bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>
    /// Whether replies are still waiting to be sent, or requests already received wait for their turn to be
    /// answered (a stopping server lets both drain before closing).
    /// </summary>
    internal bool HasUnsentOutput
    {
        get
        {
            lock (SendLock)
            {
                // The input counters belong to the receive path; a stale read here only costs one more poll.
                return !IsClosed && (_sendPending || Session.PendingOutputBytes > 0 || Volatile.Read(ref _inputCount) != 0);
            }
        }
    }

    // The send lock is the monitor of the send buffer's writer, which the connection owns anyway:
    // a separate Lock instance costs about 40 bytes per connection (idle budget: 2 KiB).
    private object SendLock => _sending;

    /// <summary>Closes the connection exactly once, releasing its waits and buffers.</summary>
    public void Close(CloseReason reason, string detail)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        CloseOnce(reason, detail);
    }

    /// <summary>
    /// <see cref="Close(CloseReason, string)"/> from a thread that found this connection earlier (a
    /// sweep over all connections): closes it only while it is still in life <paramref name="generation"/>,
    /// never the next user of a pooled object.
    /// </summary>
    public void Close(long generation, CloseReason reason, string detail)
    {
        lock (SendLock)
        {
            // ResetForReuse moves to the next generation and reopens under this lock.
            if (_generation != generation || Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }
        }

        CloseOnce(reason, detail);
    }

    private void CloseOnce(CloseReason reason, string detail)
    {
        // The address is only logged for the unusual reasons; skip the lookup for ordinary closes.
        var peer = reason is CloseReason.ClientClosed or CloseReason.ServerStopping ? string.Empty : Peer;
        bool wasPaused;
        lock (SendLock)
        {
            wasPaused = _readPaused;
            _readPaused = false;
            ClearStallLocked();
            while (_queued is { Count: > 0 } queue)
            {
                OutputSegments.Return(queue.Dequeue());
            }

            _queuedBytes = 0;
        }

        Session.Dispose();
        if (wasPaused)
        {
            // Lets a receive loop that waits for the output to drain see the close.
            OnReadingResumed();
        }

        CloseTransport();
        _server.OnConnectionClosed(this, reason, peer, detail);
        lock (SendLock)
        {
            _closeFinished = true;
        }
    }

    /// <summary>
    /// Whether this closed connection may serve another socket: its session has no store engine and
    /// nothing of its last life still runs (its close has finished, no send in flight). The transport asks once the
    /// connection's receive path has finished.
    /// </summary>
    private bool CanReuse()
    {
        if (_server.Engine is not null || HasScheduledWork)
        {
            return false;
        }

        lock (SendLock)
        {
            return IsClosed && _closeFinished && !_sendPending;
        }
    }

    /// <summary>
    /// Whether work of this connection is queued where a generation cannot be checked before it runs
    /// (then the connection is not reused).
    /// </summary>
    protected virtual bool HasScheduledWork => false;

    /// <summary>
    /// For the pool, once the transport no longer runs any code of this closed connection: clears every
    /// per-connection field, moves to the next <see cref="Generation"/> and resets the session.
    /// </summary>
    /// <returns>False (nothing changed) when the connection cannot be reused: see <see cref="CanReuse"/>.</returns>
    internal bool TryResetForReuse()
    {
        if (!CanReuse())
        {
            return false;
        }

        ResetForReuse();
        return true;
    }

    /// <summary>The transport's own per-connection fields back to new (called under the send lock).</summary>
    protected abstract void ResetTransport();

    /// <summary>The transport gave this (new or reset) connection its socket: it is open, and shown as a new connection.</summary>
    protected void Opened()
    {
        StartInspection();
        Volatile.Write(ref _closed, 0);
    }

    // Clears every per-connection field and starts the next life.
    private void ResetForReuse()
    {
        ReturnInput();
        _inputNeeded = 0;
        lock (SendLock)
        {
            _generation++;
            _closeFinished = false;
            ResetTransport();
            _sending.Release();
            while (_queued is { Count: > 0 } queue)
            {
                OutputSegments.Return(queue.Dequeue());
            }

            _queuedBytes = 0;
            _blockedOffset = 0;
            _stalledSince = 0;
            _sendPending = false;
            _readPaused = false;
            Session.Reset();

            // It stays closed while pooled: a late Close from a thread that found it in its last
            // life (a stopping server's list of connections) does nothing. Opened reopens it.
        }
    }

    /// <summary>Bytes of output not yet handed to the kernel (for log lines and flow control).</summary>
    public long UnsentBytes()
    {
        lock (SendLock)
        {
            return UnsentLocked();
        }
    }

    /// <summary>
    /// Bytes of buffers this connection holds now: its input buffer, its send buffer and the
    /// segments queued behind it (by capacity), plus the replies the session holds. For tests and
    /// diagnostics; racy against the receive path by design.
    /// </summary>
    public long HeldBytes()
    {
        long held = _input?.Length ?? 0;
        lock (SendLock)
        {
            held += _sending.Capacity + Session.PendingOutputBytes;
            foreach (var segment in _queued ?? [])
            {
                held += segment.Capacity;
            }
        }

        return held;
    }

    /// <inheritdoc />
    void ISessionOwner.OnWakeWhileIdle() => ScheduleFlush();

    /// <summary>
    /// A wake-up added output while the session was idle. Runs under the store lock: it must only
    /// schedule <see cref="Flush()"/>, never send.
    /// </summary>
    protected abstract void ScheduleFlush();

    /// <summary>Sends what the kernel takes now without blocking.</summary>
    /// <returns>False on a socket error (<paramref name="error"/> says which); true otherwise, with
    /// <paramref name="sent"/> 0 when the kernel's buffer is full.</returns>
    protected abstract bool TrySend(ReadOnlySpan<byte> data, out int sent, out string error);

    /// <summary>
    /// The kernel's send buffer is full: arrange for the rest of the send buffer, from
    /// <paramref name="offset"/>, to be sent when the socket is writable, then call
    /// <see cref="SendPending"/> with the new offset (or <see cref="FailSend"/>).
    /// </summary>
    protected abstract void SendLater(int offset);

    /// <summary>Releases the socket; called once, by <see cref="Close(CloseReason, string)"/>.</summary>
    protected abstract void CloseTransport();

    /// <summary>Unsent output reached the high-water mark: stop reading (called under the send lock).</summary>
    protected abstract void OnReadingPaused();

    /// <summary>Unsent output fell below the low-water mark (or the connection closed): read again.</summary>
    protected abstract void OnReadingResumed();

    /// <summary>
    /// Where the next receive goes when a partial request is pending: the free part of the input
    /// buffer, at most <paramref name="max"/> bytes. Rents the buffer when none is held.
    /// </summary>
    protected Memory<byte> InputFreeSpace(int max)
    {
        var input = _input ??= ArrayPool<byte>.Shared.Rent(InitialReceiveSize);
        return input.AsMemory(_inputCount, Math.Min(input.Length - _inputCount, max));
    }

    /// <summary>
    /// The whole receive step after <paramref name="count"/> bytes arrived (0 to process what
    /// <see cref="HasUnprocessedInput"/> says is waiting): in
    /// <paramref name="scratch"/> (a transport's shared buffer, used while no partial request was
    /// pending) or, when <paramref name="scratch"/> is empty, at the end of the input buffer (see
    /// <see cref="InputFreeSpace"/>). Parses and executes the whole requests, keeps the partial
    /// rest, sends the replies, checks the buffer limit and pauses reading above the high-water mark.
    /// </summary>
    /// <returns>False when the connection must be closed, for <paramref name="reason"/>.</returns>
    protected bool Received(int count, ReadOnlySpan<byte> scratch, out CloseReason reason, out string detail)
    {
        SessionResult result;
        if (!scratch.IsEmpty)
        {
            result = Session.Process(scratch[..count]);
            var rest = count - result.Consumed;
            if (rest > 0 && result.Error.IsNone)
            {
                KeepPartial(scratch.Slice(result.Consumed, rest));
            }
        }
        else
        {
            _inputCount += count;
            if (_inputCount < _inputNeeded)
            {
                // The pending frame is still incomplete: nothing to parse yet.
                reason = CloseReason.BufferLimit;
                return EnsureInputSpace(out detail);
            }

            result = Session.Process(_input.AsSpan(0, _inputCount));
            Compact(result.Consumed);
        }

        Flush();
        if (!result.Error.IsNone)
        {
            reason = ServerMetrics.ToCloseReason(result.Error);
            detail = $"after {result.Requests} requests";
            return false;
        }

        _inputNeeded = result.BytesNeeded;
        reason = CloseReason.BufferLimit;
        if (!EnsureInputSpace(out detail))
        {
            return false;
        }

        TryPauseReading();
        return true;
    }

    /// <summary>Returns the input buffer to the pool (only the receive path calls this).</summary>
    protected void ReturnInput()
    {
        var input = _input;
        _input = null;
        _inputCount = 0;
        if (input is not null)
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    /// <summary>Sends the session's pending output, unless a send is already under way.</summary>
    protected void Flush() => Flush(Generation);

    /// <summary>
    /// <see cref="Flush()"/> for work queued while the connection was in life <paramref name="generation"/>:
    /// does nothing once the object serves another connection (checked under the send lock, which
    /// <see cref="ResetForReuse"/> takes).
    /// </summary>
    protected void Flush(long generation)
    {
        var wakes = 0;
        var send = false;
        var overflowed = false;
        lock (SendLock)
        {
            if (IsClosed || _generation != generation)
            {
                return;
            }

            if (Session.UnsolicitedOverflowed)
            {
                overflowed = true;
            }
            else if (_sendPending)
            {
                QueueOutputLocked();
            }
            else if (Session.TryTakeWakesOnly(out wakes) || Session.TakeOutput(_sending))
            {
                _sendPending = true;
                send = true;
            }
        }

        if (overflowed)
        {
            // A legacy watcher fell behind its notifications by more than the buffer limit.
            Close(CloseReason.BufferLimit, "watch notifications exceed the output limit");
            return;
        }

        if (!send)
        {
            // Nothing (more) to send, or a send is stalled on a peer that does not read: an engine
            // failure (for example the output limit) closes now rather than after it.
            CloseIfEngineFailed();
            return;
        }

        if (wakes > 0 && !SendWakes(wakes))
        {
            return;
        }

        SendPending(0);
    }

    /// <summary>Sends the send buffer from <paramref name="offset"/>, then any output queued meanwhile;
    /// owns the send side until it clears the send-pending flag.</summary>
    protected void SendPending(int offset)
    {
        var progressed = false;
        while (true)
        {
            while (offset < _sending.WrittenCount)
            {
                if (!TrySend(_sending.WrittenSpan[offset..], out var sent, out var error))
                {
                    FailSend(error);
                    return;
                }

                if (sent == 0)
                {
                    OnSendBlocked(offset, progressed);
                    SendLater(offset);
                    return;
                }

                offset += sent;
                progressed = true;
            }

            bool more;
            bool resume;
            bool overflowed;
            lock (SendLock)
            {
                _sending.Clear();
                _blockedOffset = 0;
                overflowed = Session.UnsolicitedOverflowed;
                more = !IsClosed && !overflowed && TakeNextLocked();
                if (!more)
                {
                    _sending.Release();
                    _sendPending = false;
                    ClearStallLocked();
                }
                else if (progressed && _stalledSince != 0)
                {
                    _stalledSince = Environment.TickCount64;
                }

                resume = ShouldResumeLocked();
            }

            if (overflowed)
            {
                Close(CloseReason.BufferLimit, "watch notifications exceed the output limit");
                return;
            }

            if (resume)
            {
                OnReadingResumed();
            }

            if (!more)
            {
                CloseIfEngineFailed();
                return;
            }

            offset = 0;
        }
    }

    // A store engine's request failed after Process returned (see Session.EngineError): close once
    // the replies before it are sent, as a protocol error found during Process does.
    private void CloseIfEngineFailed()
    {
        var error = Session.EngineError;
        if (!error.IsNone)
        {
            Close(ServerMetrics.ToCloseReason(error), "store engine: " + error);
        }
    }

    /// <summary>
    /// A transport's asynchronous send made progress (the send buffer is sent up to
    /// <paramref name="offset"/>): the send timeout starts over, and reading may resume.
    /// </summary>
    protected void OnSendProgress(int offset)
    {
        bool resume;
        lock (SendLock)
        {
            _blockedOffset = offset;
            if (_stalledSince != 0)
            {
                _stalledSince = Environment.TickCount64;
            }

            resume = ShouldResumeLocked();
        }

        if (resume)
        {
            OnReadingResumed();
        }
    }

    /// <summary>The bytes of the send buffer (for a transport's asynchronous send).</summary>
    protected ReadOnlyMemory<byte> SendBuffer => _sending.WrittenMemory;

    /// <summary>A send failed: give up the send side and close.</summary>
    protected void FailSend(string error)
    {
        lock (SendLock)
        {
            _sendPending = false;
        }

        Close(CloseReason.SocketError, "send: " + error);
    }

    private static byte[] CreateStopWaitingBytes(int count)
    {
        // STOP_WAITING is the zero byte, so a new array already holds them.
        return new byte[count];
    }

    // Caller holds the send lock. Output not yet handed to the kernel: the rest of the send buffer,
    // the buffers queued behind it and what the session holds.
    private long UnsentLocked() => (long)_sending.WrittenCount - _blockedOffset + _queuedBytes + Session.PendingOutputBytes;

    // Caller holds the send lock.
    private bool ShouldResumeLocked()
    {
        if (!_readPaused || (_sendPending && UnsentLocked() >= _settings.LowWater))
        {
            return false;
        }

        _readPaused = false;
        return true;
    }

    // After a read: with a send still waiting for the peer and too much unsent, stop reading until
    // it drains (the peer is not reading its replies; reading its requests would only pile up more).
    private void TryPauseReading()
    {
        if (!Volatile.Read(ref _sendPending))
        {
            return;
        }

        lock (SendLock)
        {
            if (!_sendPending || IsClosed || UnsentLocked() < _settings.HighWater)
            {
                return;
            }

            _readPaused = true;
            OnReadingPaused();
        }

        _server.Metrics.OnReadPaused();
    }

    // The kernel took nothing: remember where the send stopped and when it stopped making progress.
    private void OnSendBlocked(int offset, bool progressed)
    {
        bool resume;
        lock (SendLock)
        {
            _blockedOffset = offset;
            if (_stalledSince == 0)
            {
                _stalledSince = Environment.TickCount64;
                _server.OnSendStalled(+1);
            }
            else if (progressed)
            {
                _stalledSince = Environment.TickCount64;
            }

            resume = ShouldResumeLocked();
        }

        if (resume)
        {
            OnReadingResumed();
        }
    }

    // Caller holds the send lock.
    private void ClearStallLocked()
    {
        if (_stalledSince != 0)
        {
            _stalledSince = 0;
            _server.OnSendStalled(-1);
        }
    }

    // Caller holds the send lock; a send is pending. Once the session holds a segment's worth of
    // replies, they move into a buffer of their own behind the pending send.
    private void QueueOutputLocked()
    {
        if (Session.PendingOutputBytes < SegmentBytes)
        {
            return;
        }

        var segment = OutputSegments.Get();
        if (!Session.TakeOutput(segment))
        {
            OutputSegments.Return(segment);
            return;
        }

        (_queued ??= new Queue<PooledBufferWriter>()).Enqueue(segment);
        _queuedBytes += segment.WrittenCount;
    }

    // Caller holds the send lock; the send buffer is empty. Queued segments go first: the
    // session's output was produced after them.
    private bool TakeNextLocked()
    {
        if (_queued is { Count: > 0 } queue)
        {
            var next = queue.Dequeue();
            _queuedBytes -= next.WrittenCount;
            _sending.SwapWith(next);
            OutputSegments.Return(next);
            return true;
        }

        // After each send, and there is almost never more: skip the session's lock then.
        return Session.MayHaveOutput && Session.TakeOutput(_sending);
    }

    // Drops the first consumed input bytes, keeping the partial rest.
    private void Compact(int consumed)
    {
        var rest = _inputCount - consumed;
        if (rest > 0 && consumed > 0)
        {
            _input.AsSpan(consumed, rest).CopyTo(_input);
        }

        _inputCount = rest;
        if (rest == 0)
        {
            ReturnInput();
            _inputNeeded = 0;
        }
    }

    // Keeps a partial request that arrived in a transport's scratch buffer.
    private void KeepPartial(ReadOnlySpan<byte> rest)
    {
        var input = ArrayPool<byte>.Shared.Rent(Math.Max(InitialReceiveSize, rest.Length));
        rest.CopyTo(input);
        _input = input;
        _inputCount = rest.Length;
    }

    // Checks the buffer limit (input plus unsent output) and grows the input buffer when the
    // pending frame needs more room.
    private bool EnsureInputSpace(out string detail)
    {
        detail = string.Empty;
        if (_input is null && _inputNeeded == 0 && !Volatile.Read(ref _sendPending))
        {
            // The usual end of a read: no input kept, and every reply already handed to the kernel.
            // Nothing here can pass the limit (unsent output is at most the wake-ups that came in
            // since, which are bounded elsewhere), so the two locks UnsentBytes takes are skipped.
            return true;
        }

        var pendingOutput = UnsentBytes();
        var max = _settings.MaxBuffered;
        if (_inputCount + pendingOutput > max || _inputNeeded + pendingOutput > max)
        {
            detail = $"input {_inputCount} (frame needs {_inputNeeded}) + output {pendingOutput} bytes > {max}";
            return false;
        }

        if (_input is not { } input)
        {
            return true;
        }

        if (_inputCount == input.Length || _inputNeeded > input.Length)
        {
            var size = (int)Math.Min(Math.Max(_inputNeeded, (long)input.Length * 2), Math.Min(max, Array.MaxLength));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            input.AsSpan(0, _inputCount).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(input);
            _input = bigger;
        }

        return true;
    }

    // Sends wake-ups from the constant buffer; whatever the kernel does not take goes to the send
    // buffer for the normal path. False when the send failed (the connection is closed).
    private bool SendWakes(int wakes)
    {
        while (wakes > 0)
        {
            var chunk = Math.Min(wakes, StopWaitingBytes.Length);
            if (!TrySend(StopWaitingBytes.AsSpan(0, chunk), out var sent, out var error))
            {
                FailSend(error);
                return false;
            }

            wakes -= sent;
            if (sent < chunk)
            {
                break;
            }
        }

        if (wakes > 0)
        {
            _sending.GetSpan(wakes)[..wakes].Clear(); // STOP_WAITING is the zero byte
            _sending.Advance(wakes);
        }

        return true;
    }
}
