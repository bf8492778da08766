using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// The asynchronous path of a session whose store is an <see cref="IStoreEngine"/> (for example
/// etcd): requests whose replies come back later.
/// </summary>
/// <remarks>
/// <para>
/// The in-memory path (no engine) never comes here and stays synchronous and allocation-free.
/// </para>
/// <para>
/// With an engine, every received byte is copied into the session's own input buffer, so the
/// transport never has to hold or re-offer input. One request at a time is outstanding: parsing
/// pauses while it runs, and its completion (on whatever thread the engine completes on) writes
/// the reply to the pending output, parses and starts the next request, and finally schedules a
/// flush through the same wake-up callback that STOP_WAITING uses. The event loop therefore never
/// blocks, and replies leave in request order. A wake-up from the engine goes to the pending
/// output at the moment it happens, exactly like an idle wake-up on the in-memory path.
/// </para>
/// </remarks>
public sealed partial class Session
{
    // Null on the in-memory path, so an in-memory session pays one reference field for all of this
    // (idle memory per connection is budgeted).
    private readonly IStoreEngine? _engine;
    private readonly EngineState? _engineState;

    // The first error of the asynchronous path; read by the transport after each flush.
    private int _engineError;

    private PooledBufferWriter EngineInput => _engineState!.Input;

    private PooledBufferWriter EngineReply => _engineState!.Reply;

    private ref int EngineParsed => ref _engineState!.Parsed;

    private ref bool EngineBusy => ref _engineState!.Busy;

    /// <summary>Creates the state of a new connection served by a store engine.</summary>
    /// <param name="store">Unused by requests when <paramref name="engine"/> is set; kept so wait bookkeeping has a store to retire from.</param>
    /// <param name="limits">Request limits.</param>
    /// <param name="wakeWhileIdle">Called when output was added outside <see cref="Process"/>; it must only schedule a flush.</param>
    /// <param name="engine">The engine, or null for the in-memory store.</param>
    public Session(KeyValueStore store, CodecLimits limits, Action<Session>? wakeWhileIdle, IStoreEngine? engine)
        : this(store, limits, wakeWhileIdle)
    {
        _engine = engine;
        _engineState = engine is null ? null : new EngineState();
    }

    /// <summary>
    /// The error that ended the asynchronous path (a protocol error found after a later completion,
    /// or the engine failing); <see cref="SessionError.None"/> otherwise. The transport closes the
    /// connection once the replies before it are sent.
    /// </summary>
    public SessionError EngineError => SessionError.FromCode(Volatile.Read(ref _engineError));

    /// <summary>Whether a request is outstanding in the engine or received input waits to be parsed.</summary>
    public bool HasEngineWork
    {
        get
        {
            lock (EngineLock)
            {
                return EngineBusy;
            }
        }
    }

    /// <summary>The engine's own state for this connection (for example its pending wait); the session never reads it.</summary>
    public object? EngineTag { get; set; }

    private object EngineLock => EngineInput;

    /// <summary>
    /// Called by an <see cref="IStoreEngine"/> when a pending WAIT of this session is satisfied: sends
    /// STOP_WAITING in order with the other replies, as the in-memory wait registry does.
    /// </summary>
    public void SignalWaitSatisfied() => OnWaitSatisfied();

    private SessionResult ProcessWithEngine(ReadOnlySpan<byte> input)
    {
        lock (EngineLock)
        {
            if (EngineError != ProtocolError.None)
            {
                return new SessionResult(input.Length, EngineError, 0, 0);
            }

            if (EngineParsed > 0)
            {
                EngineInput.Discard(EngineParsed);
                EngineParsed = 0;
            }

            if ((long)EngineInput.WrittenCount + input.Length > MaxPendingOutputBytes)
            {
                return new SessionResult(input.Length, SessionFault.BufferLimit, 0, 0);
            }

            input.CopyTo(EngineInput.GetSpan(input.Length));
            EngineInput.Advance(input.Length);
            if (EngineBusy)
            {
                return new SessionResult(input.Length, ProtocolError.None, 0, 0);
            }

            EngineBusy = true;
        }

        // Runs synchronously up to the first request that the engine cannot answer at once.
        var run = RunEngineAsync();
        var error = run.IsCompleted ? EngineError : SessionError.None;
        return new SessionResult(input.Length, error, 0, 0);
    }

    private async Task RunEngineAsync()
    {
        var wentAsync = false;
        while (true)
        {
            ValueTask<SessionError> pending;
            var error = SessionError.None;
            lock (EngineLock)
            {
                if (!TryStartNext(out pending, ref error))
                {
                    EngineBusy = false;
                    EngineReply.Release();
                    if (error != ProtocolError.None)
                    {
                        Volatile.Write(ref _engineError, error.ToCode());
                        EngineInput.Release();
                        EngineParsed = 0;
                    }
                    else if (EngineParsed == EngineInput.WrittenCount)
                    {
                        EngineInput.Release();
                        EngineParsed = 0;
                    }

                    break;
                }
            }

            if (!pending.IsCompleted)
            {
                if (wentAsync)
                {
                    // Replies committed since this run left the transport's thread would otherwise
                    // wait for the end of the whole pipeline: have them sent before waiting again.
                    NotifyOutputWhileIdle();
                }

                wentAsync = true;
            }

            try
            {
                error = await pending.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The engine reports its own failures as EngineUnavailable; anything thrown is the same.
                error = SessionFault.EngineUnavailable;
            }

            if (error != ProtocolError.None)
            {
                lock (EngineLock)
                {
                    Volatile.Write(ref _engineError, error.ToCode());
                    EngineBusy = false;
                    EngineReply.Release();
                    EngineInput.Release();
                    EngineParsed = 0;
                }

                break;
            }

            if (!CommitEngineReply())
            {
                lock (EngineLock)
                {
                    EngineBusy = false;
                    EngineReply.Release();
                    EngineInput.Release();
                    EngineParsed = 0;
                }

                break;
            }
        }

        if (wentAsync)
        {
            // Not on the transport's processing thread any more: ask it to send what was produced
            // (and to close the connection when an error ended the run).
            NotifyOutputWhileIdle();
        }
    }

    // Caller holds EngineLock. Parses one request and starts it; false when there is none (input
    // exhausted or incomplete, or a protocol error, which is left in error).
    private bool TryStartNext(out ValueTask<SessionError> pending, ref SessionError error)
    {
        pending = default;
        var input = EngineInput.WrittenSpan[EngineParsed..];
        if (input.IsEmpty || _disposed)
        {
            return false;
        }

        error = CheckCommandByte(input);
        if (error != ProtocolError.None)
        {
            return false;
        }

        var reader = new RequestReader(input, _limits);
        var status = reader.TryRead(out var request);
        if (status == ParseStatus.Incomplete)
        {
            return false;
        }

        if (status == ParseStatus.Error)
        {
            error = reader.Error;
            return false;
        }

        if (!_validated)
        {
            if (request.Type != QueryType.Validate || request.Word != Protocol.ValidationMagic)
            {
                error = ProtocolError.NotValidated;
                return false;
            }

            _validated = true;
            pending = ValueTask.FromResult(SessionError.None);
        }
        else if (request.Type == QueryType.Ping)
        {
            EngineReply.WriteUInt32(request.Word);
            pending = ValueTask.FromResult(SessionError.None);
        }
        else if (request.Type == QueryType.Validate)
        {
            error = ProtocolError.RepeatedValidate;
            return false;
        }
        else
        {
            try
            {
                pending = _engine!.ExecuteAsync(ref request, this, EngineReply);
            }
            catch (Exception)
            {
                pending = ValueTask.FromResult<SessionError>(SessionFault.EngineUnavailable);
            }
        }

        EngineParsed += reader.Consumed;
        return true;
    }

    // Moves the finished request's reply to the pending output, after any wake-up that came first.
    // False when the reply would pass the output limit (the connection is then closed).
    private bool CommitEngineReply()
    {
        var fits = true;
        lock (OutputLock)
        {
            if (!_disposed)
            {
                if (_output.WrittenCount + _idleWakes + (long)EngineReply.WrittenCount > MaxPendingOutputBytes)
                {
                    Volatile.Write(ref _engineError, SessionError.FromSessionFault(SessionFault.BufferLimit).ToCode());
                    fits = false;
                }
                else
                {
                    MaterializeIdleWakes();
                    EngineReply.WrittenSpan.CopyTo(_output.GetSpan(EngineReply.WrittenCount));
                    _output.Advance(EngineReply.WrittenCount);
                }
            }
        }

        EngineReply.Clear();
        return fits;
    }

    private sealed class EngineState
    {
        // Received bytes not yet started; the monitor of this buffer is the engine lock.
        public readonly PooledBufferWriter Input = new();

        // The reply of the one outstanding request.
        public readonly PooledBufferWriter Reply = new();

        // Bytes at the start of Input already parsed and started (dropped on the next append).
        public int Parsed;

        // Whether some thread currently owns parsing and starting requests (guarded by the engine lock).
        public bool Busy;
    }
}
