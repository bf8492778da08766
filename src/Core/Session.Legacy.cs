using System.Buffers;
using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// Pre-2.2 clients (PyTorch 1.13, 2.0 and 2.1): protocol detection, the legacy code table, WATCH_KEY
/// and its unsolicited notifications, and the 1.13 client's wait timeout.
/// </summary>
public sealed partial class Session
{
    // The table this connection speaks: Off for 2.2+ (and until the opening bytes are seen).
    private LegacyProtocol _table;
    private List<byte[]>? _watchedKeys;

    // Notifications (and the wake-ups that preceded them) that arrived from another thread while this
    // session was processing; merged in order like pending wake-ups.
    private PooledBufferWriter? _pendingUnsolicited;

    // Set when a notification did not fit the output budget (a watcher that does not read, or a write
    // whose notification would amplify a small request into a huge reply): the connection must close.
    private volatile bool _unsolicitedOverflow;

    /// <summary>
    /// The code table for connections that do not open with VALIDATE (pre-2.2 clients), or
    /// <see cref="LegacyProtocol.Off"/> to close them as unvalidated. Set before the first <see cref="Process"/>.
    /// </summary>
    public LegacyProtocol LegacyProtocol { get; init; }

    /// <summary>
    /// Whether WATCH_KEY notifications for this connection outgrew <see cref="MaxPendingOutputBytes"/>;
    /// the transport then closes it with <see cref="SessionFault.BufferLimit"/> (a notification is never silently dropped
    /// from a connection that stays open).
    /// </summary>
    public bool UnsolicitedOverflowed => _unsolicitedOverflow;

    /// <summary>The legacy table this connection was detected to speak, or <see cref="LegacyProtocol.Off"/> for 2.2+.</summary>
    public LegacyProtocol DetectedLegacyProtocol => _table;

    /// <summary>
    /// Queues an unsolicited frame (a WATCH_KEY notification) behind everything already produced for
    /// this connection. Called under the store's write lock, from any thread.
    /// </summary>
    internal void DeliverUnsolicited(ReadOnlySpan<byte> frame)
    {
        bool notify;
        lock (OutputLock)
        {
            if (_disposed || _unsolicitedOverflow)
            {
                return;
            }

            if (_processing && _processingThread == Environment.CurrentManagedThreadId)
            {
                // Caused by this connection's own write: it goes out in reply order, before the write's
                // reply, and counts against this batch's reply budget like any reply.
                AppendWakes(_replies);
                if (_replies.WrittenCount + (long)frame.Length > _budgetedReplies.Limit)
                {
                    _unsolicitedOverflow = true;
                    return;
                }

                Write(_replies, frame);
                notify = false;
            }
            else if (_output.WrittenCount + (_pendingUnsolicited?.WrittenCount ?? 0) + (long)frame.Length > MaxPendingOutputBytes)
            {
                // Checked before queueing from another thread, so a watcher that does not read holds
                // at most the budget; the flush this schedules closes the connection.
                _unsolicitedOverflow = true;
                notify = true;
            }
            else if (_processing)
            {
                var pending = _pendingUnsolicited ??= new PooledBufferWriter();
                for (; _pendingWakes > 0; _pendingWakes--)
                {
                    pending.WriteByte(Protocol.StopWaiting);
                }

                Write(pending, frame);
                notify = false;
            }
            else
            {
                MaterializeIdleWakes();
                Write(_output, frame);
                notify = true;
            }
        }

        if (notify)
        {
            NotifyOutputWhileIdle();
        }
    }

    // A hint read without the lock: a notification it misses is merged at the end of the batch.
    private bool HasPendingUnsolicited => Volatile.Read(ref _pendingUnsolicited) is { WrittenCount: > 0 };

    private static void Write(PooledBufferWriter destination, ReadOnlySpan<byte> frame)
    {
        frame.CopyTo(destination.GetSpan(frame.Length));
        destination.Advance(frame.Length);
    }

    // Before the first request: decides from the opening bytes whether this is a pre-2.2 client.
    // Returns false while the bytes seen so far could still be VALIDATE.
    private bool DetectProtocol(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return true;
        }

        switch (LegacyCodes.IsLegacyOpening(input))
        {
            case null:
                return false;
            case true:
                // A legacy connection has no validation step: it is accepted as it is.
                _table = LegacyProtocol;
                _validated = true;
                return true;
            default:
                return true;
        }
    }

    private SessionError ExecuteLegacy(ref Request request, OutputBudget reply)
    {
        if (_table == LegacyProtocol.Torch113 && IsWaiting)
        {
            // The 1.13 client never pipelines and has no CANCEL_WAIT: its wait timeout only stops
            // reading. A new request while its WAIT is still registered therefore means that WAIT
            // timed out; drop it, or a later STOP_WAITING would be read as the reply to some other request.
            _store.CancelWait(this);
        }

        if (request.Type != QueryType.WatchKey)
        {
            var error = Execute(ref request, reply);
            return error == ProtocolError.None && _unsolicitedOverflow ? SessionFault.BufferLimit : (SessionError)error;
        }

        // Register before replying: a change linearized after the reply must be notified.
        var watchers = KeyWatchers.For(_store);
        watchers.Add(request.Key, this);
        var key = request.Key.ToArray();
        bool disposed;
        lock (OutputLock)
        {
            // Recorded under the output lock, which Dispose sets _disposed under: either Dispose sees
            // this key and removes it, or this sees the session disposed and removes it itself.
            disposed = _disposed;
            if (!disposed)
            {
                (_watchedKeys ??= []).Add(key);
            }
        }

        if (disposed)
        {
            watchers.Remove([key], this);
        }

        reply.WriteByte(LegacyCodes.KeyCallbackRegistered);
        return ProtocolError.None;
    }

    // Caller holds the output lock.
    private void AppendUnsolicited(PooledBufferWriter destination)
    {
        if (_pendingUnsolicited is not { WrittenCount: > 0 } pending)
        {
            return;
        }

        Write(destination, pending.WrittenSpan);
        pending.Clear();
    }

    // Caller holds the output lock; the session is disposed (DisposeLegacy has removed its watches).
    private void ResetLegacy()
    {
        _table = LegacyProtocol.Off;
        _watchedKeys = null;
        _pendingUnsolicited?.Release();
        _unsolicitedOverflow = false;
    }

    // After Dispose has set _disposed: no key is recorded from now on.
    private void DisposeLegacy()
    {
        List<byte[]>? keys;
        lock (OutputLock)
        {
            keys = _watchedKeys;
            _watchedKeys = null;
            _pendingUnsolicited?.Release();
        }

        if (keys is not null && _store.KeyObserver is KeyWatchers watchers)
        {
            watchers.Remove(keys, this);
        }
    }
}
