using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TcpStore.Codec;

namespace TcpStore.Fuzz;

/// <summary>
/// Opens many connections that each WAIT on a key nobody sets, then drops them all without
/// CANCEL_WAIT (half with a reset). It runs as a separate process so that its client sockets do not
/// count against the test process's open-file limit (tests/Hostile/WaiterFloodTests.cs).
/// </summary>
internal static class WaiterFlood
{
    public static async Task<int> RunAsync(int port, int count)
    {
        var sockets = new Socket[count];
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        // Batches keep the accept backlog from overflowing (SYN retries would cost seconds).
        const int batch = 256;
        for (var start = 0; start < count; start += batch)
        {
            var tasks = new List<Task>();
            for (var i = start; i < Math.Min(count, start + batch); i++)
            {
                tasks.Add(ConnectAndWaitAsync(sockets, i, endpoint));
            }

            await Task.WhenAll(tasks);
        }

        Console.WriteLine($"registered {count}");
        Console.Out.Flush();
        await Console.In.ReadLineAsync();
        for (var i = 0; i < count; i++)
        {
            if (i % 2 == 0)
            {
                sockets[i].LingerState = new LingerOption(true, 0);
            }

            sockets[i].Dispose();
        }

        Console.WriteLine("closed");
        Console.Out.Flush();
        return 0;
    }

    private static async Task ConnectAndWaitAsync(Socket[] sockets, int index, IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        sockets[index] = socket;
        await socket.ConnectAsync(endpoint);
        var writer = new ArrayBufferWriter<byte>();
        RequestWriter.WriteValidate(writer);
        RequestWriter.WriteMultiHeader(writer, QueryType.Wait, 2);
        writer.WriteBlob(Encoding.UTF8.GetBytes($"/flood/{index}"));
        writer.WriteBlob("/flood/shared"u8);
        await socket.SendAsync(writer.WrittenMemory, SocketFlags.None);
    }
}
