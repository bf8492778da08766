using System.Runtime.CompilerServices;
using TcpStore.Codec;
using TcpStore.Core.Inspection;

namespace TcpStore.Core;

/// <summary>
/// The protocol state machine of one connection, independent of sockets: it validates, parses
/// and executes requests against the store and collects the replies for the transport to send.
/// </summary>
/// <remarks>
/// Replies of the requests in one <see cref="Process"/> call are written to a buffer owned by the
/// processing thread. STOP_WAITING wake-ups arrive from other connections' threads while they hold
/// the store lock, so they never touch that buffer: they are counted under the output lock and
/// merged in request order (before the next request is executed, and before the WAIT_CANCELED of a
/// CANCEL_WAIT). That gives the ordering clients rely on without ever holding the output lock
/// while calling into the store, which would deadlock against a waker holding the store lock.
/// </remarks>
public sealed partial class Session : Waiter, IDisposable
{
    private readonly KeyValueStore _store;
    private readonly CodecLimits _limits;
    private readonly Action<Session>? _wakeWhileIdle;
    private readonly PooledBufferWriter _replies = new();
    private readonly OutputBudget _budgetedReplies;
    private PooledBufferWriter _output = new();
    private bool _processing;
    private int _processingThread;
    private int _pendingWakes;

    // Wake-ups that arrived while idle with no output pending. They are kept as a count, not bytes, so
    // that a barrier releasing thousands of idle connections does not rent a buffer for each of them;
    // while it is non-zero the pending output is empty, and the wakes come before anything added later.
    private int _idleWakes;
    private bool _validated;
    private bool _disposed;
    private SessionStats? _stats;

    // A reset session keeps its counters object here (zeroed) for its next first request, so a
    // pooled connection does not allocate it again and Stats still reads null until then.
    private SessionStats? _spareStats;

    // The output lock is the monitor of an object the session owns anyway: a separate Lock instance
    // costs about 40 bytes per connection, and idle memory per connection is budgeted at 2 KiB.
    private object OutputLock => _replies;

    /// <summary>Creates the state of a new connection.</summary>
    /// <param name="store">The store to execute against.</param>
    /// <param name="limits">Request limits.</param>
    /// <param name="wakeWhileIdle">
    /// Called (under the store lock: it must only schedule work) when a wake-up adds output while the
    /// session is not processing input, so the transport flushes it.
    /// </param>
    public Session(KeyValueStore store, CodecLimits limits, Action<Session>? wakeWhileIdle = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _limits = limits;
        _wakeWhileIdle = wakeWhileIdle;
        _budgetedReplies = new OutputBudget(_replies);
    }

    /// <summary>
    /// Most bytes of replies the session may hold unsent (default 1 GiB). A request whose reply
    /// would go past it is not answered; <see cref="Process"/> reports <see cref="SessionFault.BufferLimit"/>.
    /// </summary>
    public long MaxPendingOutputBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Replies (bytes) after which <see cref="Process"/> stops early, after a whole request, leaving
    /// the rest of the input unconsumed (default: no limit). Bounds the work and the reply buffer of
    /// one call when a few bytes of requests ask for large replies.
    /// </summary>
    public int ReplyBytesPerProcess { get; set; } = int.MaxValue;

    /// <summary>The transport connection told about wake-ups while idle (besides the constructor's callback).</summary>
    public ISessionOwner? Owner { get; set; }

    /// <summary>What this connection has done (null until its first request after VALIDATE).</summary>
    public SessionStats? Stats => _stats;

    /// <summary>Whether the connection sent a valid VALIDATE.</summary>
    public bool IsValidated => _validated;

    /// <summary>Bytes of replies waiting to be sent.</summary>
    public int PendingOutputBytes
    {
        get
        {
            lock (OutputLock)
            {
                return _output.WrittenCount + _idleWakes;
            }
        }
    }

    /// <summary>
    /// False only when no reply is pending and none can appear unannounced: without a store engine,
    /// output that arrives from another thread (a wake-up, a watch notification) always asks the
    /// owner for a flush of its own, so a transport that finished a send may skip
    /// <see cref="TakeOutput"/> (and its lock) on false. Read without the lock: a hint.
    /// </summary>
    public bool MayHaveOutput => _engine is not null || Volatile.Read(ref _idleWakes) != 0 || _output.WrittenCount != 0;

    /// <summary>
    /// Parses and executes every whole request at the start of <paramref name="input"/>. Replies go to
    /// the pending output (see <see cref="TakeOutput"/>). Stops at the first protocol error.
    /// </summary>
    public SessionResult Process(ReadOnlySpan<byte> input)
    {
        if (!_validated && LegacyProtocol != LegacyProtocol.Off && !DetectProtocol(input))
        {
            return new SessionResult(0, ProtocolError.None, LegacyCodes.DetectionBytes, 0);
        }

        if (_engine is not null)
        {
            // Store engines speak the 2.2+ request path only: a pre-2.2 client is refused as unvalidated.
            return _table == LegacyProtocol.Off
                ? ProcessWithEngine(input)
                : new SessionResult(0, ProtocolError.NotValidated, 0, 0);
        }

        lock (OutputLock)
        {
            _processing = true;
            _processingThread = Environment.CurrentManagedThreadId;
            _budgetedReplies.Limit = MaxPendingOutputBytes - _output.WrittenCount;
        }

        var reader = new RequestReader(input, _limits, _table);
        var error = SessionError.None;
        var requests = 0;
        long needed = 0;
        var judgeCommandByte = _table == LegacyProtocol.Off;
        var replyBytesPerProcess = ReplyBytesPerProcess;
        try
        {
            while (true)
            {
                // Judge the command byte before waiting for the rest of its frame: an unvalidated peer
                // must not get to park a partial (up to 8 MiB) request, and a stray VALIDATE is final.
                // (CheckCommandByte, folded into one comparison: the byte is wrong exactly when "is
                // VALIDATE" equals "already validated".)
                var next = reader.Consumed;
                if (judgeCommandByte && (uint)next < (uint)input.Length && (input[next] == (byte)QueryType.Validate) == _validated)
                {
                    error = _validated ? ProtocolError.RepeatedValidate : ProtocolError.NotValidated;
                    break;
                }

                var status = reader.TryRead(out var request);
                if (status != ParseStatus.Complete)
                {
                    if (status == ParseStatus.Incomplete)
                    {
                        needed = reader.BytesNeeded;
                    }
                    else
                    {
                        error = reader.Error;
                    }

                    break;
                }

                if (HasPendingWakes)
                {
                    DrainWakes();
                }

                error = !_validated ? Validate(ref request)
                    : _table == LegacyProtocol.Off ? Execute(ref request, _budgetedReplies)
                    : ExecuteLegacy(ref request, _budgetedReplies);
                if (!error.IsNone)
                {
                    break;
                }

                requests++;
                if (_replies.WrittenCount >= replyBytesPerProcess)
                {
                    break;
                }
            }
        }
        catch (OutputBudgetExceededException)
        {
            // A reply would pass the output budget: the connection is closed for it, and the replies
            // already produced in this call are dropped with it.
            _replies.Clear();
            error = SessionFault.BufferLimit;
        }
        finally
        {
            lock (OutputLock)
            {
                AppendWakes(_replies);
                MaterializeIdleWakes();
                if (_disposed)
                {
                    // Closed while this batch ran (e.g. a send failed on another thread): drop the replies.
                    _replies.Clear();
                }
                else if (_output.WrittenCount == 0)
                {
                    _output.SwapWith(_replies);
                }
                else if (_replies.WrittenCount > 0)
                {
                    _replies.WrittenSpan.CopyTo(_output.GetSpan(_replies.WrittenCount));
                    _output.Advance(_replies.WrittenCount);
                    _replies.Clear();
                }

                _processing = false;
            }

            if (_replies.Capacity > 0)
            {
                _replies.Release();
            }
        }

        _stats?.OnBatch(reader.Consumed);
        return new SessionResult(reader.Consumed, error, needed, requests);
    }

    /// <summary>
    /// Moves the pending output into <paramref name="destination"/> (which must be empty) for sending.
    /// </summary>
    /// <returns>False when there was nothing to send.</returns>
    public bool TakeOutput(PooledBufferWriter destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        lock (OutputLock)
        {
            if (_disposed)
            {
                return false;
            }

            MaterializeIdleWakes();
            if (_output.WrittenCount == 0)
            {
                return false;
            }

            _output.SwapWith(destination);
            _stats?.OnSent(destination.WrittenCount);
            return true;
        }
    }

    /// <summary>
    /// When the only pending output is STOP_WAITING wake-ups (the common case when a barrier releases
    /// idle connections), takes them as a count so the transport can send them without a buffer.
    /// </summary>
    /// <param name="count">How many STOP_WAITING bytes to send.</param>
    /// <returns>False when there is other output (use <see cref="TakeOutput"/>) or nothing at all.</returns>
    public bool TryTakeWakesOnly(out int count)
    {
        // Every flush asks, and almost always there are none: skip the lock then. A wake-up racing
        // past this check is not lost; the caller's TakeOutput writes it out with the rest.
        if (Volatile.Read(ref _idleWakes) == 0)
        {
            count = 0;
            return false;
        }

        lock (OutputLock)
        {
            count = _disposed ? 0 : _idleWakes;
            _idleWakes = 0;
            _stats?.OnSent(count);
            return count > 0;
        }
    }

    /// <summary>The connection is gone: drop its wait registrations and buffers.</summary>
    public void Dispose()
    {
        lock (OutputLock)
        {
            if (_disposed)
            {
                return;
            }
        }

        _store.Retire(this);
        _engine?.Retire(this);
        lock (OutputLock)
        {
            _disposed = true;
            _idleWakes = 0;
            _output.Release();
        }

        DisposeLegacy();

        // The reply buffer belongs to the processing thread, which releases it after every batch.
    }

    /// <summary>
    /// Makes a disposed session serve a new connection as if it were new: every per-connection field
    /// (output, pending wake-ups, validation, counters, the detected legacy table and its watches,
    /// the wait bookkeeping) is cleared. A pooled connection calls this before its next socket.
    /// </summary>
    /// <remarks>
    /// The caller guarantees the old connection is finished with it: disposed (so the store retired
    /// it and no wake-up or notification can reach it any more) and no longer processing input.
    /// A session with a store engine cannot be reset: a request the engine is still completing would
    /// write the closed connection's reply into the new one.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The session is not disposed, is processing, or has an engine.</exception>
    public void Reset()
    {
        if (_engine is not null)
        {
            throw new InvalidOperationException("a session served by a store engine cannot be reused");
        }

        lock (OutputLock)
        {
            if (!_disposed || _processing)
            {
                throw new InvalidOperationException("only a disposed, idle session can be reset");
            }

            _output.Release();
            _replies.Release();
            _pendingWakes = 0;
            _idleWakes = 0;
            _processingThread = 0;
            _validated = false;
            if (_stats is not null)
            {
                _stats.Reset();
                _spareStats = _stats;
                _stats = null;
            }

            ResetLegacy();

            // Retire cleared the registrations under the store's locks and nothing registers a retired
            // waiter, so nobody else reads these fields now.
            Remaining = 0;
            Registrations = null;
            Shards = 0;
            WaitingSince = 0;
            Retired = false;
            _disposed = false;
        }
    }

    /// <inheritdoc />
    protected internal override void OnWaitSatisfied()
    {
        bool notify;
        lock (OutputLock)
        {
            if (_disposed)
            {
                return;
            }

            if (_processing && _processingThread == Environment.CurrentManagedThreadId)
            {
                // This connection woke itself (a pipelined WAIT then a write of the same key): the
                // wake belongs in reply order right here, before the write's own reply, as libuv sends it.
                AppendWakes(_replies);
                _replies.WriteByte(Protocol.StopWaiting);
                notify = false;
            }
            else if (_processing)
            {
                _pendingWakes++;
                notify = false;
            }
            else if (_output.WrittenCount == 0)
            {
                _idleWakes++;
                notify = true;
            }
            else
            {
                _output.WriteByte(Protocol.StopWaiting);
                notify = true;
            }
        }

        if (notify)
        {
            NotifyOutputWhileIdle();
        }
    }

    // Output was added outside Process (a wake-up, an engine completion, a watch notification): the
    // connection must schedule a flush. Both the callback and the typed owner are told.
    private void NotifyOutputWhileIdle()
    {
        _wakeWhileIdle?.Invoke(this);
        Owner?.OnWakeWhileIdle();
    }

    private SessionError Validate(ref Request request)
    {
        if (request.Type != QueryType.Validate || request.Word != Protocol.ValidationMagic)
        {
            return ProtocolError.NotValidated;
        }

        _validated = true;
        return ProtocolError.None;
    }

    // The reply writer is the sealed budget type, not the interface: the session's own replies (ADD, CHECK,
    // counts) are then direct, inlined writes; the store's methods still take it as an IBufferWriter.
    private SessionError Execute(ref Request request, OutputBudget reply)
    {
        var stats = _stats ??= TakeStats();
        stats.OnRequest(ref request);
        return request.Type switch
        {
            QueryType.Get => ExecuteGet(ref request, reply),
            QueryType.Set => ExecuteSet(ref request, stats),
            QueryType.Check => ExecuteCheck(ref request, reply),
            QueryType.Add => ExecuteAdd(ref request, reply),
            _ => ExecuteOther(ref request, reply),
        };
    }

    // Every request but the four of steady traffic; out of line, so that Execute saves no registers for them.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private SessionError ExecuteOther(ref Request request, OutputBudget reply)
    {
        switch (request.Type)
        {
            case QueryType.Validate:
                return ProtocolError.RepeatedValidate;
            case QueryType.CompareSet:
                _store.CompareSet(request.Key, request.Value, request.Desired, reply);
                break;
            case QueryType.Wait:
                if (_store.WaitOrRegister(request.Keys, this))
                {
                    reply.WriteByte(Protocol.StopWaiting);
                }

                break;
            case QueryType.GetNumKeys:
                reply.WriteInt64(_store.KeyCount);
                break;
            case QueryType.DeleteKey:
                reply.WriteInt64(_store.Delete(request.Key) ? 1 : 0);
                break;
            case QueryType.Append:
                _store.Append(request.Key, request.Value);
                break;
            case QueryType.MultiGet:
                _store.MultiGet(request.Keys, reply);
                break;
            case QueryType.MultiSet:
                _store.MultiSet(request.Keys);
                break;
            case QueryType.CancelWait:
                _store.CancelWait(this);
                // A wake-up that won the race was linearized before the cancel: it goes out first.
                DrainWakes();
                reply.WriteByte(Protocol.WaitCanceled);
                break;
            case QueryType.Ping:
                reply.WriteUInt32(request.Word);
                break;
            case QueryType.QueuePush:
                _store.QueuePush(request.Key, request.Value);
                break;
            case QueryType.QueuePop:
                _store.QueuePop(request.Key, reply);
                break;
            case QueryType.QueueLength:
                reply.WriteInt64(_store.QueueLength(request.Key));
                break;
            case QueryType.ListKeys:
                _store.ListKeys(reply);
                break;
            default:
                return ProtocolError.UnknownCommand;
        }

        return ProtocolError.None;
    }

    // The four requests of steady traffic (GET, SET, ADD, one-key CHECK) each run in a method of their
    // own that is never inlined into Execute. Why: the tiered JIT optimizes a method with the profile it
    // gathered while instrumented, and Execute is instrumented under whichever traffic comes first.
    // With every command inlined into Execute, a server that first served GETs compiled the SET path
    // as cold: the store's Set, the one-key Check and the rank-key record stayed calls, and a set 16x16
    // load ran at ~2,300 thousand ops/s against ~2,700 on a server that saw SETs first (2,130 with
    // DOTNET_TieredPGO=0). A method per command is profiled by its own traffic only, so each is
    // compiled as hot whatever the order; the call costs a few instructions per request.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private SessionError ExecuteSet(ref Request request, SessionStats stats)
    {
        stats.OnSet(request.Key, _store.Set(request.Key, request.Value));
        return ProtocolError.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SessionError ExecuteGet(ref Request request, OutputBudget reply)
    {
        _store.WriteValue(request.Key, reply);
        return ProtocolError.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SessionError ExecuteAdd(ref Request request, OutputBudget reply)
    {
        if (!_store.TryAdd(request.Key, request.Delta, out var sum))
        {
            return SessionFault.NonNumericAdd;
        }

        reply.WriteInt64(sum);
        return ProtocolError.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SessionError ExecuteCheck(ref Request request, OutputBudget reply)
    {
        // A one-key CHECK (a barrier's, a SET+CHECK's) reads its key straight from Key: copying the key
        // list out of the request just written by the parser costs a store-forwarding stall (perf put
        // ~4 % of a set 16x16 server's samples on that copy).
        var ready = request.Keys.Count == 1 ? _store.Check(request.Key) : _store.Check(request.Keys);
        reply.WriteByte(ready ? Protocol.CheckReady : Protocol.CheckNotReady);
        return ProtocolError.None;
    }

    private ProtocolError CheckCommandByte(ReadOnlySpan<byte> pending)
    {
        if (pending.IsEmpty || _table != LegacyProtocol.Off)
        {
            return ProtocolError.None;
        }

        var isValidate = pending[0] == (byte)QueryType.Validate;
        if (!_validated && !isValidate)
        {
            return ProtocolError.NotValidated;
        }

        return _validated && isValidate ? ProtocolError.RepeatedValidate : ProtocolError.None;
    }

    private SessionStats TakeStats()
    {
        var spare = _spareStats;
        _spareStats = null;
        return spare ?? new SessionStats();
    }

    // Read before every request without the lock (a wake-up it misses is merged at the end of the batch).
    private bool HasPendingWakes => Volatile.Read(ref _pendingWakes) != 0 || HasPendingUnsolicited;

    private void DrainWakes()
    {
        if (!HasPendingWakes)
        {
            return;
        }

        lock (OutputLock)
        {
            AppendWakes(_replies);
        }
    }

    // Caller holds the output lock. Idle wakes precede whatever is added to the output after them.
    // Every batch and every flush ask and there are almost never any: the test inlines, the writing does not.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MaterializeIdleWakes()
    {
        if (_idleWakes > 0)
        {
            WriteIdleWakes();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteIdleWakes()
    {
        for (; _idleWakes > 0; _idleWakes--)
        {
            _output.WriteByte(Protocol.StopWaiting);
        }
    }

    // Caller holds the output lock. As above, only the test for "any at all" is inlined.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AppendWakes(PooledBufferWriter destination)
    {
        if (_pendingWakes > 0 || _pendingUnsolicited is { WrittenCount: > 0 })
        {
            WritePendingWakes(destination);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WritePendingWakes(PooledBufferWriter destination)
    {
        AppendUnsolicited(destination);
        for (; _pendingWakes > 0; _pendingWakes--)
        {
            destination.WriteByte(Protocol.StopWaiting);
        }
    }
}
