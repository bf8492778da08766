using System.Net;
using BenchmarkDotNet.Attributes;
using TcpStore.Server;
using TcpStore.Server.Linux;

namespace TcpStore.Bench.Micro;

/// <summary>
/// Allocations per accepted connection: a client connects over loopback, sends VALIDATE and a PING,
/// reads the reply and closes, and the operation ends once the server has closed its side. The client
/// uses raw system calls and allocates nothing, so the allocated bytes (BenchmarkDotNet counts every
/// thread's) are the server's: accepting, the connection and its session, closing. Pooled=false is the
/// baseline without pooling (<see cref="TcpStoreServerOptions.PoolConnections"/>), in the same run.
/// </summary>
/// <remarks>
/// Run: <c>dotnet run -c Release --project bench -- --filter '*AcceptBenchmarks*'</c>. Linux only
/// (raw sockets); the time column includes the loopback handshake and is not the point.
/// </remarks>
[MemoryDiagnoser]
[WarmupCount(3)]
[IterationCount(8)]
[InvocationCount(32)]
public class AcceptBenchmarks
{
    private const int Connections = 64;
    private static readonly byte[] ValidateAndPing = [.. Frames.Validate(), .. Frames.Build("Ping")];

    private TcpStoreServer _server = null!;
    private IPEndPoint _endpoint = null!;

    /// <summary>The server's transport.</summary>
    [Params(ServerTransport.Epoll, ServerTransport.Sockets)]
    public ServerTransport Transport { get; set; }

    /// <summary>Whether closed connections are reused (false: the baseline, a new one per accept).</summary>
    [Params(false, true)]
    public bool Pooled { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (!LinuxClientSockets.IsSupported)
        {
            throw new PlatformNotSupportedException("the accept benchmark uses Linux sockets");
        }

        _server = new TcpStoreServer(new TcpStoreServerOptions
        {
            Host = IPAddress.Loopback,
            Port = 0,
            Transport = Transport,
            EventLoops = 1,
            PoolConnections = Pooled,
            WaitReportInterval = TimeSpan.Zero,
        });
        _server.StartAsync().GetAwaiter().GetResult();
        _endpoint = new IPEndPoint(IPAddress.Loopback, _server.Port);
        AcceptValidateClose();
    }

    [GlobalCleanup]
    public void Cleanup() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>One connection's whole life, <see cref="Connections"/> times; bytes are per connection.</summary>
    [Benchmark(OperationsPerInvoke = Connections)]
    public void AcceptValidateClose()
    {
        Span<byte> reply = stackalloc byte[4];
        for (var i = 0; i < Connections; i++)
        {
            var fd = LinuxClientSockets.StartConnect(_endpoint, null);
            if (fd < 0)
            {
                throw new InvalidOperationException("connect: errno " + -fd);
            }

            SendAll(fd, ValidateAndPing);
            ReceiveAll(fd, reply);
            LinuxSockets.Close(fd);
        }

        // The server's side of the closes is part of the cost: wait for it.
        while (_server.Metrics.Active != 0)
        {
            Thread.Yield();
        }
    }

    private static void SendAll(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = LinuxSockets.Send(fd, data);
            if (sent == -LinuxSockets.EAgain)
            {
                // Still connecting (loopback: a few microseconds).
                Thread.Yield();
                continue;
            }

            if (sent < 0)
            {
                throw new InvalidOperationException("send: errno " + -sent);
            }

            data = data[sent..];
        }
    }

    private static void ReceiveAll(int fd, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var received = LinuxSockets.Receive(fd, buffer);
            if (received == -LinuxSockets.EAgain)
            {
                Thread.Yield();
                continue;
            }

            if (received <= 0)
            {
                throw new InvalidOperationException("recv: " + received);
            }

            buffer = buffer[received..];
        }
    }
}
