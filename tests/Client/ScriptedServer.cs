using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace TcpStore.Tests.Client;

/// <summary>
/// A one-connection-at-a-time fake server on 127.0.0.1 that runs a test's script against each accepted socket, so
/// a test can produce replies (and races) a real server only produces by chance.
/// </summary>
public sealed class ScriptedServer : IAsyncDisposable
{
    private static readonly TimeSpan ReadLimit = TimeSpan.FromSeconds(10);
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="script">Runs for each accepted connection (concurrently), given the connection and its index (0, 1, ...).</param>
    public ScriptedServer(Func<Peer, int, Task> script)
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        _loop = Task.Run(async () =>
        {
            var running = new List<Task>();
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    break;
                }

                var index = Accepted++;
                running.Add(Task.Run(async () =>
                {
                    using var peer = new Peer(socket, _stop.Token);
                    try
                    {
                        await script(peer, index);
                    }
                    catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or EndOfStreamException)
                    {
                        // The client went away or the test ended.
                    }
                }));
            }

            await Task.WhenAll(running);
        });
    }

    /// <summary>A script for scripts that only care about the second connection: the primary just validates and idles.</summary>
    public static Func<Peer, int, Task> WaitConnection(Func<Peer, Task> script) => async (peer, index) =>
    {
        if (index == 0)
        {
            await peer.HandshakeAsync();
            await peer.HoldAsync();
        }
        else
        {
            await script(peer);
        }
    };

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public int Accepted { get; private set; }


    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    /// <summary>One accepted connection, with exact reads bounded in time.</summary>
    public sealed class Peer(Socket socket, CancellationToken stop) : IDisposable
    {
        /// <summary>Keeps the connection open until the client closes it or the server is disposed.</summary>
        public async Task HoldAsync()
        {
            var buffer = new byte[256];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0)
            {
            }
        }

        public async Task<byte[]> ReadAsync(int count)
        {
            var buffer = new byte[count];
            using var limit = new CancellationTokenSource(ReadLimit);
            var read = 0;
            while (read < count)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, limit.Token);
                if (n == 0)
                {
                    throw new EndOfStreamException();
                }

                read += n;
            }

            return buffer;
        }

        /// <summary>Reads VALIDATE, then (if <paramref name="ping"/>) PING and echoes it; returns the nonce.</summary>
        public async Task<uint> HandshakeAsync(bool ping = true, uint? echo = null)
        {
            var validate = await ReadAsync(5);
            Assert.Equal(new byte[] { 0, 0xCE, 0xF7, 0x85, 0x3C }, validate);
            if (!ping)
            {
                return 0;
            }

            var request = await ReadAsync(5);
            Assert.Equal(13, request[0]);
            var nonce = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(1));
            var reply = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(reply, echo ?? nonce);
            await SendAsync(reply);
            return nonce;
        }

        /// <summary>Reads a multi-key request (CHECK, WAIT, ...) and returns its code and keys.</summary>
        public async Task<(byte Code, List<string> Keys)> ReadMultiKeyAsync()
        {
            var header = await ReadAsync(9);
            var count = (int)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(1));
            var keys = new List<string>();
            for (var i = 0; i < count; i++)
            {
                var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(await ReadAsync(8));
                keys.Add(System.Text.Encoding.UTF8.GetString(await ReadAsync(length)));
            }

            return (header[0], keys);
        }

        public async Task SendAsync(params byte[] bytes) => await socket.SendAsync(bytes);

        public void Dispose() => socket.Dispose();
    }
}
