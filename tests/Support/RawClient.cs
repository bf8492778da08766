using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Tests.Support;

/// <summary>
/// A byte-level test client: builds requests with the codec's writer, sends them however the test
/// wants (whole, pipelined, one byte at a time) and reads replies with a deadline.
/// </summary>
public sealed class RawClient : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;

    private RawClient(Socket socket) => _socket = socket;

    public Socket Socket => _socket;

    public static async Task<RawClient> ConnectAsync(int port, bool validate = true)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var client = new RawClient(socket);
        if (validate)
        {
            await client.SendAsync(Frame(w => RequestWriter.WriteValidate(w)));
        }

        return client;
    }

    public static byte[] Frame(Action<ArrayBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Key(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    public static byte[] Set(string key, string value) => Frame(w => RequestWriter.WriteKeyValueCommand(w, QueryType.Set, default, Key(key), Key(value)));

    public static byte[] Get(string key) => Frame(w => RequestWriter.WriteKeyCommand(w, QueryType.Get, default, Key(key)));

    public static byte[] Add(string key, long delta) => Frame(w => RequestWriter.WriteAdd(w, default, Key(key), delta));

    public static byte[] Multi(QueryType type, params string[] keys) => Frame(w =>
    {
        RequestWriter.WriteMultiHeader(w, type, keys.Length);
        foreach (var key in keys)
        {
            w.WriteBlob(Key(key));
        }
    });

    public async Task SendAsync(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
        }
    }

    public async Task<byte[]> ReceiveExactlyAsync(int count, TimeSpan? timeout = null)
    {
        var buffer = new byte[count];
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var read = 0;
        while (read < count)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0)
            {
                throw new EndOfStreamException($"connection closed after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }

    public async Task<byte> ReadByteAsync(TimeSpan? timeout = null) => (await ReceiveExactlyAsync(1, timeout))[0];

    public async Task<long> ReadInt64Async() => BinaryPrimitives.ReadInt64LittleEndian(await ReceiveExactlyAsync(8));

    public async Task<byte[]> ReadBlobAsync()
    {
        var length = await ReadInt64Async();
        return await ReceiveExactlyAsync(checked((int)length));
    }

    /// <summary>True when nothing arrives within <paramref name="window"/> (and the connection is still open).</summary>
    public async Task<bool> NothingArrivesWithinAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        var probe = new byte[1];
        try
        {
            var n = await _socket.ReceiveAsync(probe, SocketFlags.Peek, cts.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    /// <summary>True when the server closes the connection (EOF or reset) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                if (await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();
}
