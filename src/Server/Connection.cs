using System.Buffers;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>
/// What every transport's connection shares: the protocol session, the input buffer that holds a
/// partial request between reads, the send path (synchronous while the kernel takes the bytes,
/// handed to the transport under backpressure), the buffer limit, and closing exactly once.
/// </summary>
/// <remarks>
/// Replies are sent at the end of each read, so everything one read produced leaves in one send.
/// Only the transport's receive path touches the input buffer; only the current owner of the send
/// side (the one that set the send-pending flag) touches the send buffer.
/// </remarks>
internal abstract partial class Connection
{
    /// <summary>Size of the buffer rented when a partial request must be kept between reads.</summary>
    protected const int InitialReceiveSize = 16 * 1024;

    // Enough STOP_WAITING bytes for any burst of wake-ups to go out without a buffer.
    private static readonly byte[] StopWaitingBytes = CreateStopWaitingBytes(64);

    private readonly TcpStoreServer _server;
    private readonly long _maxBuffered;
    private readonly PooledBufferWriter _sending = new();
    private bool _sendPending;
    private int _closed;

    /// <summary>Creates the connection's session.</summary>
    protected Connection(TcpStoreServer server, KeyValueStore store, CodecLimits limits, long maxBuffered)
    {
        _server = server;
        _maxBuffered = maxBuffered;
        Session = new Session(store, limits, static session => ((Connection)session.Owner!).ScheduleFlush(), server.Engine)
        {
            // Bounds what one read can make the server buffer, even inside a single huge reply.
            MaxPendingOutputBytes = maxBuffered,
            Owner = this,
            LegacyProtocol = server.LegacyProtocol,
        };
    }

    /// <summary>The peer's address, for log lines.</summary>
    public abstract string Peer { get; }

    /// <summary>The protocol state machine.</summary>
    protected Session Session { get; }

    /// <summary>Bytes of a partial request kept between reads (null while none is pending).</summary>
    protected byte[]? Input { get; set; }

    /// <summary>How many bytes of <see cref="Input"/> hold received data.</summary>
    protected int InputCount { get; set; }

    /// <summary>How many bytes the pending partial request needs before parsing is worth retrying.</summary>
    protected long InputNeeded { get; private set; }

    /// <summary>Whether <see cref="Close"/> has run.</summary>
    protected bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Whether replies are still waiting to be sent (a stopping server lets them drain before closing).</summary>
    internal bool HasUnsentOutput
    {
        get
        {
            lock (SendLock)
            {
                return !IsClosed && (_sendPending || Session.PendingOutputBytes > 0);
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

        // The address is only logged for the unusual reasons; skip the lookup for ordinary closes.
        var peer = reason is CloseReason.ClientClosed or CloseReason.ServerStopping ? string.Empty : Peer;
        Session.Dispose();
        CloseTransport();
        _server.OnConnectionClosed(this, reason, peer, detail);
    }

    /// <summary>
    /// A wake-up added output while the session was idle. Runs under the store lock: it must only
    /// schedule <see cref="Flush"/>, never send.
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

    /// <summary>Releases the socket; called once, by <see cref="Close"/>.</summary>
    protected abstract void CloseTransport();

    /// <summary>
    /// After a read was processed: send its replies, then decide whether the connection may go on
    /// (no protocol error, and what it buffers is within the limit).
    /// </summary>
    protected bool AfterProcess(in SessionResult result, out CloseReason reason, out string detail)
    {
        Flush();
        if (result.Error != ProtocolError.None)
        {
            reason = ServerMetrics.ToCloseReason(result.Error);
            detail = $"after {result.Requests} requests";
            return false;
        }

        InputNeeded = result.BytesNeeded;
        reason = CloseReason.BufferLimit;
        return EnsureInputSpace(out detail);
    }

    /// <summary>Drops the first <paramref name="consumed"/> input bytes, keeping the partial rest.</summary>
    protected void Compact(int consumed)
    {
        var rest = InputCount - consumed;
        if (rest > 0 && consumed > 0)
        {
            Input.AsSpan(consumed, rest).CopyTo(Input);
        }

        InputCount = rest;
        if (rest == 0)
        {
            ReturnInput();
            InputNeeded = 0;
        }
    }

    /// <summary>Keeps a partial request that arrived in a transport's scratch buffer.</summary>
    protected void KeepPartial(ReadOnlySpan<byte> rest)
    {
        var input = ArrayPool<byte>.Shared.Rent(Math.Max(InitialReceiveSize, rest.Length));
        rest.CopyTo(input);
        Input = input;
        InputCount = rest.Length;
    }

    /// <summary>
    /// Checks the buffer limit (input plus unsent output) and grows the input buffer when the
    /// pending frame needs more room.
    /// </summary>
    protected bool EnsureInputSpace(out string detail)
    {
        detail = string.Empty;
        var pendingOutput = (long)Session.PendingOutputBytes + _sending.WrittenCount;
        if (InputCount + pendingOutput > _maxBuffered || InputNeeded + pendingOutput > _maxBuffered)
        {
            detail = $"input {InputCount} (frame needs {InputNeeded}) + output {pendingOutput} bytes > {_maxBuffered}";
            return false;
        }

        if (Input is not { } input)
        {
            return true;
        }

        if (InputCount == input.Length || InputNeeded > input.Length)
        {
            var size = (int)Math.Min(Math.Max(InputNeeded, (long)input.Length * 2), Math.Min(_maxBuffered, Array.MaxLength));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            input.AsSpan(0, InputCount).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(input);
            Input = bigger;
        }

        return true;
    }

    /// <summary>Returns the input buffer to the pool (only the receive path calls this).</summary>
    protected void ReturnInput()
    {
        var input = Input;
        Input = null;
        if (input is not null)
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    /// <summary>Sends the session's pending output, unless a send is already under way.</summary>
    protected void Flush()
    {
        var wakes = 0;
        var send = false;
        lock (SendLock)
        {
            if (!_sendPending && !IsClosed)
            {
                if (Session.UnsolicitedOverflowed)
                {
                    wakes = -1;
                }
                else if (Session.TryTakeWakesOnly(out wakes) || Session.TakeOutput(_sending))
                {
                    _sendPending = true;
                    send = true;
                }
            }
        }

        if (wakes < 0)
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
        bool overflowed;
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
                    SendLater(offset);
                    return;
                }

                offset += sent;
            }

            lock (SendLock)
            {
                _sending.Clear();
                overflowed = Session.UnsolicitedOverflowed;
                if (IsClosed || overflowed || !Session.TakeOutput(_sending))
                {
                    _sending.Release();
                    _sendPending = false;
                    break;
                }
            }

            offset = 0;
        }

        if (overflowed)
        {
            Close(CloseReason.BufferLimit, "watch notifications exceed the output limit");
            return;
        }

        CloseIfEngineFailed();
    }

    // A store engine's request failed after Process returned (see Session.EngineError): close once
    // the replies before it are sent, as a protocol error found during Process does.
    private void CloseIfEngineFailed()
    {
        var error = Session.EngineError;
        if (error != ProtocolError.None)
        {
            Close(ServerMetrics.ToCloseReason(error), "store engine: " + error);
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
