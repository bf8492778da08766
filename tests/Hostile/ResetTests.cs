using System.Net;
using System.Net.Sockets;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Clients that reset (RST) while replies are still being sent to them, many at once.</summary>
[Collection(HostileCollection.Name)]
public sealed class ResetTests
{
    private const int Rounds = 5;
    private const int ClientsPerRound = 200;

    [Fact]
    public async Task Clients_resetting_with_replies_in_flight_do_not_hurt_the_server()
    {
        await using var server = await HostileServer.StartAsync();
        using (var setup = await RawClient.ConnectAsync(server.Port))
        {
            await setup.SendAsync(RawClient.Set("/reply", new string('r', 16 * 1024)));
            await setup.SendAsync(RawClientFrames.Ping(1));
            await setup.ReceiveExactlyAsync(4);
        }

        // 200 GETs of 16 KiB each: 3 MiB of replies per client, far more than it lets arrive before the reset.
        var burst = RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Concat(Enumerable.Repeat(RawClient.Get("/reply"), 200).ToArray()));
        await server.UnderAttackAsync(
            async () =>
            {
                for (var round = 0; round < Rounds; round++)
                {
                    await Task.WhenAll(Enumerable.Range(0, ClientsPerRound).Select(async _ =>
                    {
                        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
                        await socket.SendAsync(burst, SocketFlags.None);
                        // Read a little, so replies are certainly flowing, then reset.
                        await socket.ReceiveAsync(new byte[1024], SocketFlags.None);
                        socket.LingerState = new LingerOption(true, 0);
                    }));
                }
            },
            TimeSpan.FromSeconds(120));

        var total = Rounds * ClientsPerRound;
        await HostileServer.EventuallyAsync(
            () => server.Metrics.Closed(CloseReason.SocketError) + server.Metrics.Closed(CloseReason.ClientClosed) >= total,
            $"only {server.Metrics.Closed(CloseReason.SocketError)} resets and {server.Metrics.Closed(CloseReason.ClientClosed)} closes seen");
        Assert.True(server.Metrics.Closed(CloseReason.SocketError) > 0, "no reset was observed as one");
        await server.AssertHealthyAsync();
    }
}
