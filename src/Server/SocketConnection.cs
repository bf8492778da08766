using System.Net.Sockets;

namespace TcpStore.Server;

/// <summary>
/// A connection on .NET's socket engine (the portable transport): a receive loop that parses and
/// executes on the I/O completion that delivered the bytes, and sends that fall back to
/// <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/> only under backpressure.
/// </summary>
/// <remarks>
/// While idle the connection waits with a zero-byte receive and holds no buffer; a receive buffer is
/// rented from the shared pool only while bytes are being processed or a partial request is pending.
/// Above the high-water mark of unsent output the receive loop waits for the send to drain. After a
/// pass budget of bytes it waits for a turn among the busy connections
/// (<see cref="ConnectionSettings.BusyTurns"/>), so receives completing synchronously one after
/// another cannot keep thread-pool threads from the other connections.
/// </remarks>
internal sealed class SocketConnection : Connection, IThreadPoolWorkItem
{
    // An asynchronous send hands the kernel at most this much at a time, so that progress (which
    // restarts the send timeout and may resume reading) is seen while a large buffer drains.
    private const int SendSlice = 64 * 1024;

    private readonly ConnectionPool<SocketConnection>? _pool;
    private Socket _socket = null!;
    private TaskCompletionSource? _resumed;
    private int _flushQueued;

    /// <summary>Creates a connection with no socket yet (see <see cref="Open"/>); it goes back to <paramref name="pool"/> when its receive loop ends.</summary>
    public SocketConnection(TcpStoreServer server, ConnectionSettings settings, ConnectionPool<SocketConnection>? pool)
        : base(server, settings)
    {
        _pool = pool;
    }

    /// <summary>Takes an accepted socket (a new or reset connection, before <see cref="RunAsync"/>).</summary>
    public void Open(Socket socket)
    {
        _socket = socket;
        Opened();
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
        var budget = ParseBudgetBytes;
        var turns = Settings.BusyTurns;
        var holdingTurn = false;
        try
        {
            while (true)
            {
                var unprocessed = HasUnprocessedInput;
                if (holdingTurn && !unprocessed && _socket.Available == 0)
                {
                    // The next receive may wait for the peer: never wait while holding a turn.
                    turns.Release();
                    holdingTurn = false;
                }

                int received;
                if (unprocessed)
                {
                    // Requests a previous step left for lack of reply allowance come before new bytes.
                    received = 0;
                    budget -= UnprocessedStepCharge;
                }
                else
                {
                    if (!HasPartialInput)
                    {
                        // Hold no buffer while idle: wait for readability with a zero-byte receive.
                        var readable = _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
                        if (!readable.IsCompleted)
                        {
                            // The peer really went quiet: its next burst starts a fresh budget.
                            budget = ParseBudgetBytes;
                        }

                        await readable.ConfigureAwait(false);
                    }

                    received = await _socket.ReceiveAsync(InputFreeSpace(CopyBudgetBytes), SocketFlags.None).ConfigureAwait(false);
                    if (received == 0)
                    {
                        reason = CloseReason.ClientClosed;
                        break;
                    }
                }

                if (!Received(received, default, out reason, out detail))
                {
                    break;
                }

                if (ReadPaused)
                {
                    if (holdingTurn)
                    {
                        turns.Release();
                        holdingTurn = false;
                    }

                    // The peer does not read its replies: read nothing more until they drain.
                    await _resumed!.Task.ConfigureAwait(false);
                    if (IsClosed)
                    {
                        reason = CloseReason.ServerStopping;
                        break;
                    }
                }

                budget -= received;
                if (budget <= 0)
                {
                    // Busy: queue for a turn behind the other busy connections (in order).
                    budget = ParseBudgetBytes;
                    if (holdingTurn)
                    {
                        turns.Release();
                    }

                    await turns.WaitAsync().ConfigureAwait(false);
                    holdingTurn = true;
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
        finally
        {
            if (holdingTurn)
            {
                turns.Release();
            }
        }

        Close(reason, detail);
        // Only the receive loop uses the input buffer, so only it returns the buffer to the pool.
        ReturnInput();

        // Nothing of this receive loop runs for the connection any more; the pool keeps it unless a
        // send or a flush of it is still under way.
        _pool?.Return(this);
    }

    void IThreadPoolWorkItem.Execute()
    {
        // Read before the flag is cleared: while it is set the connection is not reused, so this is
        // the life the flush was queued for, and Flush checks it again under the send lock.
        var generation = Generation;
        Volatile.Write(ref _flushQueued, 0);
        Flush(generation);
    }

    protected override bool HasScheduledWork => Volatile.Read(ref _flushQueued) != 0;

    protected override void ResetTransport()
    {
        _socket = null!;
        _resumed = null;
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

    // Called under the send lock by the receive loop, which then waits for this signal. A pause is
    // rare (a peer that does not read), so one allocation per pause is fine.
    protected override void OnReadingPaused() => _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override void OnReadingResumed() => _resumed?.TrySetResult();

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
                var slice = SendBuffer[offset..Math.Min(SendBuffer.Length, offset + SendSlice)];
                offset += await _socket.SendAsync(slice, SocketFlags.None).ConfigureAwait(false);
                OnSendProgress(offset);
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
