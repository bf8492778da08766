using System.Net;
using TcpStore.Server;

namespace TcpStore.Tests.Support;

/// <summary>An in-process server on an ephemeral loopback port, stopped on dispose.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(TcpStoreServer server) => Server = server;

    public TcpStoreServer Server { get; }

    public int Port => Server.Port;

    public static async Task<TestServer> StartAsync(Action<TcpStoreServerOptions>? configure = null)
    {
        var options = new TcpStoreServerOptions { Host = IPAddress.Loopback, Port = 0 };
        configure?.Invoke(options);
        var server = new TcpStoreServer(options);
        await server.StartAsync();
        return new TestServer(server);
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
