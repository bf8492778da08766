using System.Net;
using TcpStore.Etcd;
using TcpStore.Server;

namespace TcpStore.Tests.Etcd;

/// <summary>An in-process server (a front-end) with the etcd engine, on a loopback port.</summary>
public sealed class EtcdFrontEnd : IAsyncDisposable
{
    private int _disposed;

    private EtcdFrontEnd(TcpStoreServer server, EtcdEngine engine)
    {
        Server = server;
        Engine = engine;
    }

    public TcpStoreServer Server { get; }

    public EtcdEngine Engine { get; }

    public int Port => Server.Port;

    public static async Task<EtcdFrontEnd> StartAsync(IReadOnlyList<Uri> endpoints, string prefix, int port = 0, TimeSpan? requestTimeout = null)
    {
        var engineOptions = new EtcdEngineOptions { Prefix = prefix, RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10) };
        foreach (var endpoint in endpoints)
        {
            engineOptions.Endpoints.Add(endpoint);
        }

        var engine = await EtcdEngine.ConnectAsync(engineOptions);
        var options = new TcpStoreServerOptions { Host = IPAddress.Loopback, Port = port, Engine = engine };
        var server = new TcpStoreServer(options);
        await server.StartAsync();
        return new EtcdFrontEnd(server, engine);
    }

    public static string NewPrefix() => $"/t/{Guid.NewGuid():N}/";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Server.DisposeAsync();
        await Engine.DisposeAsync();
    }
}
