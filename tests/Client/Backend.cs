using System.Net;
using TcpStore.Client;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Client;

/// <summary>Which server a client test runs against.</summary>
public enum Backend
{
    /// <summary>Our server, in-process.</summary>
    Ours,

    /// <summary>Real PyTorch 2.10, libuv backend (tcpstore-shim).</summary>
    PyTorchLibUv,

    /// <summary>Real PyTorch 2.10, legacy backend (tcpstore-shim): no queues, closes on GET of a missing key.</summary>
    PyTorchLegacy,
}

/// <summary>A running server of any <see cref="Backend"/> on 127.0.0.1, restartable on the same port.</summary>
public sealed class AnyServer : IAsyncDisposable
{
    private TestServer? _ours;
    private RealPyTorchServer? _real;

    private AnyServer(Backend backend) => Backend = backend;

    public Backend Backend { get; }

    public int Port { get; private set; }

    public bool HasQueues => Backend != Backend.PyTorchLegacy;

    /// <summary>The in-process server (only for <see cref="Backend.Ours"/>).</summary>
    public TestServer? Ours => _ours;

    public static async Task<AnyServer> StartAsync(Backend backend, int port = 0)
    {
        var server = new AnyServer(backend);
        await server.StartOnAsync(port);
        return server;
    }

    /// <summary>Client options suited to tests: generous store timeout (the real server may stall ~1 s on reverse DNS), quick backoff.</summary>
    public TcpStoreClientOptions ClientOptions(TimeSpan? timeout = null) => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        Timeout = timeout ?? TimeSpan.FromSeconds(15),
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(500),
    };

    public ValueTask<TcpStoreClient> ConnectAsync(TimeSpan? timeout = null) => TcpStoreClient.ConnectAsync(ClientOptions(timeout));

    /// <summary>Stops the server (the real one exits at once, closing every connection).</summary>
    public async Task StopAsync()
    {
        if (_ours is not null)
        {
            await _ours.DisposeAsync();
            _ours = null;
        }

        if (_real is not null)
        {
            await _real.DisposeAsync();
            _real = null;
        }
    }

    /// <summary>Stops and starts a fresh server (empty store) on the same port.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartOnAsync(Port);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StartOnAsync(int port)
    {
        // The port may linger briefly after a stop; retry the bind for a bounded time.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                if (Backend == Backend.Ours)
                {
                    _ours = await TestServer.StartAsync(o => o.Port = port);
                    Port = _ours.Port;
                }
                else
                {
                    _real = await RealPyTorchServer.StartAsync(Backend == Backend.PyTorchLibUv, port);
                    Port = _real.Port;
                }

                return;
            }
            catch (Exception ex) when (port != 0 && DateTime.UtcNow < deadline && ex is System.Net.Sockets.SocketException or InvalidOperationException)
            {
                await Task.Delay(100);
            }
        }
    }
}
