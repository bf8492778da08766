using System.Net;
using System.Net.Sockets;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Connections past the limit are refused at accept, counted and logged; the server keeps serving.</summary>
[Collection(HostileCollection.Name)]
public sealed class ConnectionFloodTests
{
    private const int MaxConnections = 16;
    private const int Flood = 200;

    [Fact]
    public async Task Flood_past_the_connection_limit_is_refused_cleanly()
    {
        await using var server = await HostileServer.StartAsync(o => o.MaxConnections = MaxConnections);
        var flood = new List<Socket>();
        try
        {
            await server.UnderAttackAsync(async () =>
            {
                for (var i = 0; i < Flood; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    flood.Add(socket);
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
                }

                // Healthy client (2 connections) + up to 14 flood connections fit; the rest are refused.
                await HostileServer.EventuallyAsync(
                    () => server.Metrics.Closed(CloseReason.ConnectionLimit) >= Flood - (MaxConnections - 2),
                    $"refused {server.Metrics.Closed(CloseReason.ConnectionLimit)}");
                Assert.True(server.Metrics.Active <= MaxConnections, $"{server.Metrics.Active} active connections");
            });
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }

        Assert.Equal(Flood - (MaxConnections - 2), server.Metrics.Closed(CloseReason.ConnectionLimit));
        Assert.True(server.Log.CountContaining(nameof(CloseReason.ConnectionLimit), "127.0.0.1") >= 1);
        await server.AssertHealthyAsync();
    }
}
