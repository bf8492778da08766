using System.Buffers;
using System.Net.Sockets;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>
/// A connection on .NET's socket engine (the portable transport): a receive loop that parses and
/// executes on the I/O completion that delivered the bytes, and sends that fall back to
/// <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/> only under backpressure.
/// </summary>
/// <remarks>
/// While idle the connection waits with a zero-byte receive and holds no buffer; a receive buffer is
/// rented from the shared pool only while bytes are being processed or a partial request is pending.
/// </remarks>
internal sealed class SocketConnection : Connection, IThreadPoolWorkItem
{
    private readonly Socket _socket;
    private int _flushQueued;

    public SocketConnection(TcpStoreServer server, Socket socket, KeyValueStore store, CodecLimits limits, long maxBuffered)
        : base(server, store, limits, maxBuffered)
    {
        _socket = socket;
    }

    public override string Peer
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
                if (InputCount == 0)
                {
                    // Hold no buffer while idle: wait for readability with a zero-byte receive.
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                    Input ??= ArrayPool<byte>.Shared.Rent(InitialReceiveSize);
                }

                var received = await _socket.ReceiveAsync(Input.AsMemory(InputCount), SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    reason = CloseReason.ClientClosed;
                    break;
                }

                InputCount += received;
                if (InputCount < InputNeeded)
                {
                    continue;
                }

                var result = Session.Process(Input.AsSpan(0, InputCount));
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

    void IThreadPoolWorkItem.Execute()
    {
        Volatile.Write(ref _flushQueued, 0);
        Flush();
    }

    protected override void ScheduleFlush()
    {
        if (Interlocked.Exchange(ref _flushQueued, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    protected override bool TrySend(ReadOnlySpan<byte> data, out int sent, out string error)
    {
        SocketError code;
        try
        {
            sent = _socket.Send(data, SocketFlags.None, out code);
        }
        catch (ObjectDisposedException)
        {
            sent = 0;
            error = "closed";
            return false;
        }

        if (code == SocketError.WouldBlock)
        {
            sent = 0;
            error = string.Empty;
            return true;
        }

        error = code.ToString();
        return code == SocketError.Success;
    }

    protected override void SendLater(int offset) => _ = SendRemainderAsync(offset);

    protected override void CloseTransport()
    {
        try
        {
            _socket.Dispose();
        }
        catch (SocketException)
        {
            // Already reset by the peer; nothing to release.
        }
    }

    private async Task SendRemainderAsync(int offset)
    {
        try
        {
            while (offset < SendBuffer.Length)
            {
                offset += await _socket.SendAsync(SendBuffer[offset..], SocketFlags.None).ConfigureAwait(false);
            }
        }
        catch (SocketException ex)
        {
            FailSend(ex.SocketErrorCode.ToString());
            return;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        SendPending(offset);
    }
}
