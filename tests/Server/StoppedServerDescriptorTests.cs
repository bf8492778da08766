using System.Net;
using System.Net.Sockets;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary>
/// A server embedded in a process shares the process's descriptor numbers: once it has stopped, nothing it
/// left running (here a store engine's request that completes late and asks the connection's loop to send
/// the reply) may write to a descriptor number it closed, because the process may have opened something
/// else under that number since. The loops' wake-up eventfds were such a number: a late wake-up wrote its
/// 8-byte counter (01 00 00 00 00 00 00 00) into whatever socket had taken the number, which a client of
/// another server read as a reply (seen in EtcdClientFailoverTests: "unexpected reply byte 1 to WAIT").
/// </summary>
[Collection(DescriptorReuseCollection.Name)]
public sealed class StoppedServerDescriptorTests
{
    private const int Pairs = 64;

    [Fact]
    public async Task An_engine_request_that_completes_after_the_server_stopped_writes_into_no_descriptor_opened_since()
    {
        var engine = new ManualEngine();
        var server = await TestServer.StartAsync(o =>
        {
            o.Transport = ServerTransport.Epoll;
            o.Engine = engine;
        });
        using (var client = await RawClient.ConnectAsync(server.Port))
        {
            await client.SendAsync(RawClient.Get("held"));
            Assert.True(await Eventually.TrueAsync(() => engine.Started == 1));
        }

        await server.DisposeAsync();

        // The kernel hands out the lowest free numbers: the sockets opened now take the numbers the stopped
        // server closed (its loops' eventfds and epoll instances, the connection's socket). Both ends of
        // a TCP pair are readable from the other, so a stray write to either number shows up.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(Pairs);
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < Pairs; i++)
            {
                var near = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(near);
                near.Connect(listener.LocalEndPoint!);
                sockets.Add(listener.Accept());
            }

            // The held GET completes: the session asks its connection's (stopped) loop to send the reply.
            engine.Complete("late"u8);
            await Task.Delay(300);

            Assert.All(sockets, socket => Assert.Equal(0, socket.Available));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }
}

/// <summary>Tests that count on which descriptor numbers the process opens next: nothing else may open any meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorReuseCollection
{
    public const string Name = "Descriptor reuse";
}
