using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>
/// The async engine of <c>barrier</c>: one task per rank on .NET async sockets, at most
/// <c>maxConnecting</c> of them between starting to connect and their ADD reply.
/// </summary>
public static class AsyncBarrier
{
    /// <summary>Runs one rendezvous of <paramref name="ranks"/> ranks against <paramref name="server"/>.</summary>
    public static async Task<RendezvousTimes> RunAsync(IPEndPoint server, int ranks, int maxConnecting, CancellationToken token)
    {
        var frames = BarrierFrames.Instance;
        var clock = Stopwatch.StartNew();
        long lastConnectedTicks = 0;
        long lastSetTicks = 0;
        long lastReleasedTicks = 0;
        var failures = 0;
        using var gate = new SemaphoreSlim(maxConnecting);
        var rankTasks = new Task[ranks];
        var sockets = new Socket?[ranks];
        for (var i = 0; i < ranks; i++)
        {
            var rank = i;
            rankTasks[i] = Task.Run(
                async () =>
                {
                    var released = false;
                    await gate.WaitAsync(token).ConfigureAwait(false);
                    try
                    {
                        var socket = await LoadConnection.ConnectSocketAsync(server, LoadRunner.SourceAddress(rank, ranks), token).ConfigureAwait(false);
                        sockets[rank] = socket;
                        InterlockedMax(ref lastConnectedTicks, clock.ElapsedTicks);
                        await socket.SendAsync(frames.ValidateAndAdd, SocketFlags.None, token).ConfigureAwait(false);
                        var reply = new byte[8];
                        await ReceiveExactlyAsync(socket, reply, token).ConfigureAwait(false);
                        gate.Release();
                        released = true;
                        var count = BinaryPrimitives.ReadInt64LittleEndian(reply);
                        if (count == ranks)
                        {
                            InterlockedMax(ref lastSetTicks, clock.ElapsedTicks);
                        }

                        await socket.SendAsync(count == ranks ? frames.SetAndWait : frames.Wait, SocketFlags.None, token).ConfigureAwait(false);
                        await ReceiveExactlyAsync(socket, reply.AsMemory(0, 1), token).ConfigureAwait(false);
                        if (reply[0] != Protocol.StopWaiting)
                        {
                            throw new IOException("WAIT replied " + reply[0]);
                        }

                        InterlockedMax(ref lastReleasedTicks, clock.ElapsedTicks);
                    }
                    catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
                    {
                        Interlocked.Increment(ref failures);
                    }
                    finally
                    {
                        if (!released)
                        {
                            gate.Release();
                        }
                    }
                },
                CancellationToken.None);
        }

        await Task.WhenAll(rankTasks).ConfigureAwait(false);
        var total = clock.Elapsed;
        foreach (var socket in sockets)
        {
            if (socket is not null)
            {
                CloseWithReset(socket);
            }
        }

        return new RendezvousTimes(
            Stopwatch.GetElapsedTime(0, lastConnectedTicks),
            Stopwatch.GetElapsedTime(0, Math.Max(0, lastReleasedTicks - lastSetTicks)),
            total,
            failures);
    }

    /// <summary>Receives exactly <paramref name="buffer"/>'s length, or throws when the server closes first.</summary>
    public static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(socket);
        while (!buffer.IsEmpty)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("server closed the connection");
            }

            buffer = buffer[n..];
        }
    }

    /// <summary>Closes with RST so no TIME_WAIT piles up between runs.</summary>
    public static void CloseWithReset(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset.
        }

        socket.Dispose();
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
