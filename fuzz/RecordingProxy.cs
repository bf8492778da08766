using System.Net;
using System.Net.Sockets;

namespace TcpStore.Fuzz;

/// <summary>
/// A loopback TCP proxy that forwards both directions unchanged and saves what each client sent
/// (one file per connection). Used to record seed corpus from the real PyTorch client.
/// </summary>
internal static class RecordingProxy
{
    public static async Task<int> RunAsync(int targetPort, string outDir, string prefix)
    {
        Directory.CreateDirectory(outDir);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(64);
        Console.WriteLine($"listening on {((IPEndPoint)listener.LocalEndPoint!).Port}");
        Console.Out.Flush();

        using var stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            // Stdin EOF is the stop signal, so a script can end the proxy by closing a pipe.
            while (await Console.In.ReadLineAsync() is not null)
            {
            }

            await stop.CancelAsync();
        });

        var sessions = new List<Task>();
        var number = 0;
        try
        {
            while (true)
            {
                var client = await listener.AcceptAsync(stop.Token);
                var path = Path.Combine(outDir, $"{prefix}-{number++:D2}.bin");
                sessions.Add(ForwardAsync(client, targetPort, path));
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped by stdin EOF.
        }

        await Task.WhenAll(sessions);
        return 0;
    }

    private static async Task ForwardAsync(Socket client, int targetPort, string path)
    {
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var recorded = new MemoryStream();
        try
        {
            await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, targetPort));
            client.NoDelay = true;
            var toServer = PumpAsync(client, upstream, recorded);
            var toClient = PumpAsync(upstream, client, null);
            await Task.WhenAny(toServer, toClient);
            // One side is done: close both so the other pump ends before the record is read.
            client.Dispose();
            upstream.Dispose();
            await Task.WhenAll(toServer, toClient);
        }
        catch (SocketException)
        {
            // Either side went away; what was sent so far is still recorded.
        }
        finally
        {
            client.Dispose();
        }

        if (recorded.Length > 0)
        {
            await File.WriteAllBytesAsync(path, recorded.ToArray());
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, MemoryStream? record)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0)
                {
                    return;
                }

                record?.Write(buffer, 0, n);
                var sent = 0;
                while (sent < n)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None);
                }
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
