using System.Buffers;
using System.Net.Sockets;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>
/// One client connection: a receive loop that parses and executes on the I/O completion that
/// delivered the bytes, and a send path that writes replies synchronously when the kernel takes
/// them and falls back to an asynchronous send only under backpressure.
/// </summary>
/// <remarks>
/// While idle the connection waits with a zero-byte receive and holds no buffer; a receive buffer is
/// rented from the shared pool only while bytes are being processed or a partial request is pending.
/// Replies are sent at the end of each read, so everything one read produced leaves in one send.
/// </remarks>
internal sealed class Connection : IThreadPoolWorkItem
{
    private const int InitialReceiveSize = 16 * 1024;

    private readonly TcpStoreServer _server;
    private readonly Socket _socket;
    private readonly Session _session;
    private readonly long _maxBuffered;
    private readonly PooledBufferWriter _sending = new();
    private byte[]? _input;
    private int _inputCount;
    private long _inputNeeded;
    private bool _sendPending;
    private int _closed;
    private int _flushQueued;

    // The send lock is the monitor of the send buffer's writer, which the connection owns anyway:
    // a separate Lock instance costs about 40 bytes per connection (idle budget: 2 KiB).
    private object SendLock => _sending;

    public Connection(TcpStoreServer server, Socket socket, KeyValueStore store, CodecLimits limits, long maxBuffered)
    {
        _server = server;
        _socket = socket;
        _maxBuffered = maxBuffered;
        _session = new Session(store, limits, static session => ((Connection)session.Owner!).QueueFlush())
        {
            // Bounds what one read can make the server buffer, even inside a single huge reply.
            MaxPendingOutputBytes = maxBuffered,
        };
        _session.Owner = this;
    }

    public string Peer
    {
        get
        {
            try
            {
                return _socket.RemoteEndPoint?.ToString() ?? "?";
            }
            catch (ObjectDisposedException)
            {
                return "?";
            }
            catch (SocketException)
            {
                return "?";
            }
        }
    }

    public async Task RunAsync()
    {
        var reason = CloseReason.ClientClosed;
        var detail = string.Empty;
        try
        {
            while (true)
            {
                if (_inputCount == 0)
                {
                    // Hold no buffer while idle: wait for readability with a zero-byte receive.
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                    _input ??= ArrayPool<byte>.Shared.Rent(InitialReceiveSize);
                }

                var received = await _socket.ReceiveAsync(_input.AsMemory(_inputCount), SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    reason = CloseReason.ClientClosed;
                    break;
                }

                _inputCount += received;
                if (_inputCount < _inputNeeded)
                {
                    continue;
                }

                var result = _session.Process(_input.AsSpan(0, _inputCount));
                Compact(result.Consumed);
                if (!AfterProcess(result, out reason, out detail))
                {
                    break;
                }
            }
        }
        catch (SocketException ex)
        {
            reason = CloseReason.SocketError;
            detail = ex.SocketErrorCode.ToString();
        }
        catch (ObjectDisposedException)
        {
            reason = CloseReason.ServerStopping;
        }

        Close(reason, detail);
        // Only the receive loop uses the input buffer, so only it returns the buffer to the pool.
        ReturnInput();
    }

    /// <summary>The epoll loop that owns this connection's reads, when that transport is used.</summary>
    public EpollLoop? Loop { get; set; }

    /// <summary>This connection's key in its loop.</summary>
    public long LoopId { get; set; }

    /// <summary>
    /// Epoll transport: the socket is readable. Receives and processes until the kernel has no more
    /// (or one short read says it is drained; level-triggered epoll reports the rest), on the loop thread.
    /// </summary>
    public void OnReadable(byte[] scratch)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return;
        }

        CloseReason reason;
        var detail = string.Empty;
        try
        {
            while (true)
            {
                var intoScratch = _inputCount == 0;
                var target = intoScratch ? scratch.AsSpan() : _input.AsSpan(_inputCount);
                var received = _socket.Receive(target, SocketFlags.None, out var error);
                if (error == System.Net.Sockets.SocketError.WouldBlock)
                {
                    return;
                }

                if (error != System.Net.Sockets.SocketError.Success)
                {
                    reason = CloseReason.SocketError;
                    detail = error.ToString();
                    break;
                }

                if (received == 0)
                {
                    reason = CloseReason.ClientClosed;
                    break;
                }

                SessionResult result;
                if (intoScratch)
                {
                    result = _session.Process(scratch.AsSpan(0, received));
                    var rest = received - result.Consumed;
                    if (rest > 0 && result.Error == ProtocolError.None)
                    {
                        _input = ArrayPool<byte>.Shared.Rent(Math.Max(InitialReceiveSize, rest));
                        scratch.AsSpan(result.Consumed, rest).CopyTo(_input);
                        _inputCount = rest;
                    }
                }
                else
                {
                    _inputCount += received;
                    if (_inputCount < _inputNeeded)
                    {
                        if (!EnsureInputSpace(out detail))
                        {
                            reason = CloseReason.BufferLimit;
                            break;
                        }

                        continue;
                    }

                    result = _session.Process(_input.AsSpan(0, _inputCount));
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
        }
        catch (ObjectDisposedException)
        {
            reason = CloseReason.ServerStopping;
        }

        Close(reason, detail);
        ReturnInput();
    }

    /// <summary>Closes the connection exactly once, releasing its waits and buffers.</summary>
    public void Close(CloseReason reason, string detail)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        var peer = Peer;
        _session.Dispose();
        try
        {
            _socket.Dispose();
        }
        catch (SocketException)
        {
            // Already reset by the peer; nothing to release.
        }

        Loop?.Remove(this);
        _server.OnConnectionClosed(this, reason, peer, detail);
    }

    void IThreadPoolWorkItem.Execute()
    {
        Volatile.Write(ref _flushQueued, 0);
        Flush();
    }

    private void QueueFlush()
    {
        // Runs under the store lock: only schedule, never send here.
        if (Interlocked.Exchange(ref _flushQueued, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    // Both transports, after a read was processed: send its replies, then decide whether the
    // connection may go on (no protocol error, and what it buffers is within the limit).
    private bool AfterProcess(in SessionResult result, out CloseReason reason, out string detail)
    {
        Flush();
        if (result.Error != ProtocolError.None)
        {
            reason = ServerMetrics.ToCloseReason(result.Error);
            detail = $"after {result.Requests} requests";
            return false;
        }

        _inputNeeded = result.BytesNeeded;
        reason = CloseReason.BufferLimit;
        return EnsureInputSpace(out detail);
    }

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

    private bool EnsureInputSpace(out string detail)
    {
        detail = string.Empty;
        var pendingOutput = (long)_session.PendingOutputBytes + _sending.WrittenCount;
        if (_inputCount + pendingOutput > _maxBuffered || _inputNeeded + pendingOutput > _maxBuffered)
        {
            detail = $"input {_inputCount} (frame needs {_inputNeeded}) + output {pendingOutput} bytes > {_maxBuffered}";
            return false;
        }

        if (_input is null)
        {
            return true;
        }

        if (_inputCount == _input.Length || _inputNeeded > _input.Length)
        {
            var size = (int)Math.Min(Math.Max(_inputNeeded, (long)_input.Length * 2), Math.Min(_maxBuffered, Array.MaxLength));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            _input.AsSpan(0, _inputCount).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_input);
            _input = bigger;
        }

        return true;
    }

    private void ReturnInput()
    {
        var input = _input;
        _input = null;
        if (input is not null)
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    private void Flush()
    {
        lock (SendLock)
        {
            if (_sendPending || Volatile.Read(ref _closed) != 0 || !_session.TakeOutput(_sending))
            {
                return;
            }

            _sendPending = true;
        }

        SendPending(0);
    }

    // Sends _sending from offset; owns the send side until it clears _sendPending.
    private void SendPending(int offset)
    {
        while (true)
        {
            while (offset < _sending.WrittenCount)
            {
                int sent;
                SocketError error;
                try
                {
                    sent = _socket.Send(_sending.WrittenSpan[offset..], SocketFlags.None, out error);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                if (error == System.Net.Sockets.SocketError.WouldBlock)
                {
                    _ = SendRemainderAsync(offset);
                    return;
                }

                if (error != System.Net.Sockets.SocketError.Success)
                {
                    FailSend(error);
                    return;
                }

                offset += sent;
            }

            lock (SendLock)
            {
                _sending.Clear();
                if (Volatile.Read(ref _closed) != 0 || !_session.TakeOutput(_sending))
                {
                    _sending.Release();
                    _sendPending = false;
                    return;
                }
            }

            offset = 0;
        }
    }

    private async Task SendRemainderAsync(int offset)
    {
        try
        {
            while (offset < _sending.WrittenCount)
            {
                offset += await _socket.SendAsync(_sending.WrittenMemory[offset..], SocketFlags.None).ConfigureAwait(false);
            }
        }
        catch (SocketException ex)
        {
            FailSend(ex.SocketErrorCode);
            return;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        SendPending(offset);
    }

    private void FailSend(SocketError error)
    {
        lock (SendLock)
        {
            _sendPending = false;
        }

        Close(CloseReason.SocketError, "send: " + error);
    }
}
