using System.Buffers;
using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>
/// One closed-loop client connection: its socket, connecting and populating, and the async-socket
/// engine. What is sent and how replies are counted lives in <see cref="ClosedLoop"/>, which the
/// epoll engine drives too.
/// </summary>
public sealed class LoadConnection : IDisposable
{
    private static readonly byte[] ValidateFrame = BuildValidate();
    private readonly RequestCatalog _catalog;
    private readonly Socket _socket;

    private LoadConnection(Workload workload, RequestCatalog catalog, RunPhase phase, Socket socket, int seed)
    {
        _catalog = catalog;
        _socket = socket;
        Loop = new ClosedLoop(workload, catalog, phase, seed);
    }

    /// <summary>The requests in flight, their timing and the results.</summary>
    public ClosedLoop Loop { get; }

    /// <summary>The connected socket; the epoll engine works on its descriptor.</summary>
    public Socket Socket => _socket;

    /// <summary>Connects and validates on async sockets (the async engine).</summary>
    public static async Task<LoadConnection> ConnectAsync(IPEndPoint server, IPAddress? source, Workload workload, RequestCatalog catalog, RunPhase phase, int seed, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(server, source, cancellationToken).ConfigureAwait(false);
        if (catalog.Wire == RequestWire.TcpStore)
        {
            await socket.SendAsync(ValidateFrame, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }

        return new LoadConnection(workload, catalog, phase, socket, seed);
    }

    /// <summary>
    /// Connects and validates with blocking calls only (the epoll engine). A socket that has run
    /// one async operation is registered with .NET's socket engine for good, and that engine's
    /// thread then wakes on every reply the epoll loop reads: measured, about a third of the
    /// generator's core at depth 1.
    /// </summary>
    public static LoadConnection Connect(IPEndPoint server, IPAddress? source, Workload workload, RequestCatalog catalog, RunPhase phase, int seed)
    {
        var socket = CreateSocket(server, source);
        try
        {
            socket.Connect(server);
            if (catalog.Wire == RequestWire.TcpStore)
            {
                // Redis has no handshake; a TcpStore server wants VALIDATE first.
                socket.Send(ValidateFrame);
            }

            return new LoadConnection(workload, catalog, phase, socket, seed);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Opens a TCP connection (optionally from a given 127.0.0.x source address).</summary>
    public static async Task<Socket> ConnectSocketAsync(IPEndPoint server, IPAddress? source, CancellationToken cancellationToken)
    {
        var socket = CreateSocket(server, source);
        try
        {
            await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes SET for every key (pipelined) and waits until the server has applied them. Blocking
    /// calls, so that the epoll engine's sockets never meet .NET's socket engine (see
    /// <see cref="Connect"/>); it runs once, before anything is timed.
    /// </summary>
    public void Populate()
    {
        using var send = new PooledBufferWriter();
        for (var k = 0; k < _catalog.Sets.Length; k++)
        {
            send.Write(_catalog.Sets[k]);
            if (send.WrittenCount > 32 * 1024 || k == _catalog.Sets.Length - 1)
            {
                _socket.Send(send.WrittenSpan);
                send.Clear();
            }
        }

        var receive = new byte[64 * 1024];
        if (_catalog.Wire == RequestWire.Resp)
        {
            AwaitRespReplies(receive, _catalog.Sets.Length);
            return;
        }

        // One CHECK reply per SET+CHECK frame.
        var expected = _catalog.Sets.Length;
        while (expected > 0)
        {
            var n = _socket.Receive(receive);
            if (n == 0)
            {
                throw new IOException("server closed the connection while populating");
            }

            expected -= n;
        }
    }

    // One +OK per SET, counted over partial reads; an error reply means the keys are not there.
    private void AwaitRespReplies(byte[] receive, int expected)
    {
        var counter = new RespReplyCounter();
        var buffered = 0;
        while (counter.Replies < expected)
        {
            var n = _socket.Receive(receive, buffered, receive.Length - buffered, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("server closed the connection while populating");
            }

            buffered += n;
            var consumed = counter.Consume(receive.AsSpan(0, buffered));
            if (consumed < 0 || (consumed == 0 && buffered == receive.Length))
            {
                throw new IOException("unexpected reply while populating");
            }

            receive.AsSpan(consumed, buffered - consumed).CopyTo(receive);
            buffered -= consumed;
        }

        if (counter.Errors > 0)
        {
            throw new IOException($"{counter.Errors} error replies while populating, the first: {counter.FirstError}");
        }
    }

    /// <summary>
    /// The async engine: runs the closed loop until the phase says stop, then drains what is in
    /// flight. Every completion goes through .NET's socket engine and the thread pool.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var loop = Loop;
        try
        {
            loop.Refill();
            await _socket.SendAsync(loop.Send.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            loop.Send.Clear();
            while (loop.InFlight > 0)
            {
                var n = await _socket.ReceiveAsync(loop.ReceiveSpace, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    loop.Failure = "server closed the connection";
                    return;
                }

                if (!loop.OnReceived(n))
                {
                    return;
                }

                if (loop.Issuing)
                {
                    loop.Refill();
                    if (loop.Send.WrittenCount > 0)
                    {
                        await _socket.SendAsync(loop.Send.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                        loop.Send.Clear();
                    }
                }
            }
        }
        catch (SocketException ex)
        {
            loop.Failure = ex.SocketErrorCode.ToString();
        }
        catch (OperationCanceledException)
        {
            loop.Failure ??= $"timed out with {loop.InFlight} replies outstanding";
        }
    }

    /// <summary>Closes with RST so no TIME_WAIT piles up between runs.</summary>
    public void Dispose()
    {
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }

        _socket.Dispose();
        Loop.Send.Release();
    }

    private static Socket CreateSocket(IPEndPoint server, IPAddress? source)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
            {
                // IP_BIND_ADDRESS_NO_PORT: pick the port at connect time per 4-tuple, not per address,
                // so one source address serves far more than the ephemeral range's worth of bindings.
                socket.SetRawSocketOption(0, 24, BitConverter.GetBytes(1));
                socket.Bind(new IPEndPoint(source, 0));
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static byte[] BuildValidate()
    {
        using var writer = new PooledBufferWriter();
        RequestWriter.WriteValidate(writer);
        return writer.WrittenSpan.ToArray();
    }
}
