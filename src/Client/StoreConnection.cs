using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>
/// One TCP connection to the server: sends encoded requests and reads reply fields with
/// <see cref="ResponseReader"/>. Every I/O method has a synchronous and an asynchronous mode
/// (<c>sync</c> parameter) so that the protocol logic above it is written once; in synchronous mode the
/// returned <see cref="ValueTask"/> is always already complete. Not thread-safe: one caller at a time.
/// </summary>
internal sealed class StoreConnection : IDisposable
{
    private const int InitialBufferSize = 4096;

    // Reply lengths are checked only to keep a corrupt length from allocating absurd arrays.
    private const long MaxReplyLength = int.MaxValue - 64;

    private readonly Socket _socket;
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _start;
    private int _end;
    private int _disposed;
    private bool _closedByPeer;
    private int _sendTimeout;

    public StoreConnection(Socket socket, string endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
    }

    /// <summary>The server as <c>host:port</c>, for error messages.</summary>
    public string Endpoint { get; }

    /// <summary>
    /// The last request sent had no reply (SET, APPEND, MULTI_SET, QUEUE_PUSH): the server may have
    /// rejected it by closing the connection, which only shows on the next use. Holds its description.
    /// </summary>
    public string? UnconfirmedRequest { get; set; }

    /// <summary>
    /// With retries after connection loss: the encoded writes without a reply sent since the last reply
    /// (<see langword="null"/> when there are none, or without retries).
    /// </summary>
    public UnconfirmedWrites? Unconfirmed { get; set; }

    /// <summary>
    /// Whether an idle connection can take a new request: nothing readable (no EOF, no reset, no stray
    /// bytes) while no reply is outstanding.
    /// </summary>
    public bool IsIdleAndOpen
    {
        get
        {
            if (Volatile.Read(ref _disposed) != 0 || _end > _start || _closedByPeer)
            {
                return false;
            }

            try
            {
                return !_socket.Poll(0, SelectMode.SelectRead) && !_socket.Poll(0, SelectMode.SelectError);
            }
            catch (SocketException)
            {
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        if (sync)
        {
            var sendTimeout = ToSocketTimeout(deadline);
            if (Math.Abs(sendTimeout - _sendTimeout) > 1000 || (sendTimeout == 0) != (_sendTimeout == 0))
            {
                // Only when it moved noticeably: setting it is a system call.
                _socket.SendTimeout = _sendTimeout = sendTimeout;
            }

            var span = data.Span;
            while (!span.IsEmpty)
            {
                span = span[_socket.Send(span)..];
            }

            return;
        }

        while (!data.IsEmpty)
        {
            data = data[await _socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false)..];
        }
    }

    /// <summary>
    /// Waits until reply bytes (or EOF) are available, up to <paramref name="deadline"/>; consumes nothing.
    /// Returns <see langword="false"/> when the deadline passed first.
    /// </summary>
    public async ValueTask<bool> WaitReadableAsync(Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        if (_end > _start || _closedByPeer)
        {
            return true;
        }

        if (sync)
        {
            return PollReadable(deadline);
        }

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!deadline.IsNever)
        {
            timer.CancelAfter(deadline.Remaining);
        }

        try
        {
            // A real receive, not a zero-byte one: cancelling a pending receive never loses bytes (either the
            // cancellation wins and nothing was read, or the data is delivered), while zero-byte receives were seen
            // to complete with nothing to read after an earlier one had been cancelled.
            MakeRoom(1);
            var received = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, timer.Token).ConfigureAwait(false);
            if (received == 0)
            {
                _closedByPeer = true;
            }

            _end += received;
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask<byte> ReadByteAsync(Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        await FillAsync(1, deadline, sync, cancellationToken).ConfigureAwait(false);
        return _buffer[_start++];
    }

    public async ValueTask<uint> ReadUInt32Async(Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        await FillAsync(sizeof(uint), deadline, sync, cancellationToken).ConfigureAwait(false);
        return TakeUInt32();
    }

    public async ValueTask<long> ReadInt64Async(Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        await FillAsync(sizeof(long), deadline, sync, cancellationToken).ConfigureAwait(false);
        return TakeInt64();
    }

    public async ValueTask<byte[]> ReadBlobAsync(Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeBlob(out var value, out var needed))
            {
                return value;
            }

            await FillAsync(needed, deadline, sync, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _socket.Dispose();
        }
    }

    private static int ToSocketTimeout(Deadline deadline)
    {
        if (deadline.IsNever)
        {
            return 0;
        }

        var ms = deadline.Remaining.TotalMilliseconds;
        return (int)Math.Clamp(ms, 1, int.MaxValue);
    }

    private uint TakeUInt32()
    {
        var reader = new ResponseReader(_buffer.AsSpan(_start, _end - _start));
        reader.TryReadUInt32(out var value);
        _start += reader.Consumed;
        return value;
    }

    private long TakeInt64()
    {
        var reader = new ResponseReader(_buffer.AsSpan(_start, _end - _start));
        reader.TryReadInt64(out var value);
        _start += reader.Consumed;
        return value;
    }

    private bool TryTakeBlob(out byte[] value, out int needed)
    {
        var buffered = _buffer.AsSpan(_start, _end - _start);
        var reader = new ResponseReader(buffered);
        if (reader.TryReadBlob(MaxReplyLength, out var span))
        {
            value = span.ToArray();
            _start += reader.Consumed;
            needed = 0;
            return true;
        }

        value = [];
        needed = buffered.Length < sizeof(ulong)
            ? sizeof(ulong)
            : sizeof(ulong) + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(buffered);
        return false;
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered.</summary>
    private async ValueTask FillAsync(int count, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        if (_end - _start >= count)
        {
            return;
        }

        MakeRoom(count);
        while (_end - _start < count)
        {
            if (_closedByPeer)
            {
                throw new EndOfStreamException("the server closed the connection");
            }

            int received;
            if (sync)
            {
                if (!PollReadable(deadline))
                {
                    throw new TimeoutException();
                }

                received = _socket.Receive(_buffer.AsSpan(_end));
            }
            else
            {
                // The caller's token carries the reply deadline in asynchronous mode.
                received = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            if (received == 0)
            {
                throw new EndOfStreamException("the server closed the connection");
            }

            _end += received;
        }
    }

    private void MakeRoom(int count)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }

        if (_buffer.Length - _start >= count)
        {
            return;
        }

        var buffered = _end - _start;
        var target = _buffer.Length >= count ? _buffer : new byte[Math.Max(count, Math.Min(Array.MaxLength, _buffer.Length * 2))];
        _buffer.AsSpan(_start, buffered).CopyTo(target);
        _buffer = target;
        _start = 0;
        _end = buffered;
    }

    private bool PollReadable(Deadline deadline)
    {
        // Poll takes at most int.MaxValue microseconds; long or infinite waits poll in slices.
        var slice = TimeSpan.FromMinutes(30);
        while (true)
        {
            var remaining = deadline.Remaining;
            var wait = remaining == Timeout.InfiniteTimeSpan || remaining > slice ? slice : remaining;
            if (_socket.Poll(wait, SelectMode.SelectRead))
            {
                return true;
            }

            if (deadline.HasExpired)
            {
                return false;
            }
        }
    }
}
