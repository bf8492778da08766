using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;
using TcpStore.Etcd;
using TcpStore.Server;
using TcpStore.Tests.Hostile;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// Hostile clients against a front-end with the etcd engine, while a healthy client keeps working:
/// bad input closes only its own connection (counted by reason), resets with replies in flight and
/// a client that never reads do not hurt anyone else.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdHostileTests(EtcdTestCluster cluster)
{
    [Fact]
    public async Task Protocol_violations_close_only_the_offender_and_are_counted()
    {
        await using var engine = await ConnectAsync();
        await using var server = await HostileServer.StartAsync(o => o.Engine = engine);
        (string Name, byte[] Bytes, CloseReason Reason)[] violations =
        [
            ("no-validate", RawClient.Get("/k"), CloseReason.NotValidated),
            ("wrong-magic", RawClientFrames.Validate(Protocol.ValidationMagic ^ 1), CloseReason.NotValidated),
            ("second-validate", RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Validate()), CloseReason.RepeatedValidate),
            ("unknown-18", RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Bare(18)), CloseReason.UnknownCommand),
            ("add-on-text", RawClientFrames.Concat(RawClientFrames.Validate(), RawClient.Set("/text", "x"), RawClient.Add("/text", 1)), CloseReason.NonNumericAdd),
        ];
        await server.UnderAttackAsync(async () =>
        {
            foreach (var (name, bytes, _) in violations)
            {
                using var attacker = await RawClient.ConnectAsync(server.Port, validate: false);
                await attacker.SendAsync(bytes);
                Assert.True(await attacker.IsClosedByServerAsync(), $"{name}: not closed");
            }
        });

        foreach (var reason in violations.Select(v => v.Reason).Distinct())
        {
            var expected = violations.Count(v => v.Reason == reason);
            await HostileServer.EventuallyAsync(() => server.Metrics.Closed(reason) == expected, $"{reason} counted {server.Metrics.Closed(reason)} times, expected {expected}");
        }

        await server.AssertHealthyAsync();
    }

    [Fact]
    public async Task Clients_resetting_with_replies_in_flight_and_a_client_that_never_reads_hurt_nobody()
    {
        await using var engine = await ConnectAsync();
        await using var server = await HostileServer.StartAsync(o =>
        {
            o.Engine = engine;
            o.MaxBufferedBytesPerConnection = 256 * 1024;
        });
        using (var setup = await RawClient.ConnectAsync(server.Port))
        {
            await setup.SendAsync(RawClient.Set("/reply", new string('r', 16 * 1024)));
            await setup.SendAsync(RawClientFrames.Ping(1));
            await setup.ReceiveExactlyAsync(4);
        }

        var burst = RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Concat(Enumerable.Repeat(RawClient.Get("/reply"), 40).ToArray()));
        await server.UnderAttackAsync(async () =>
        {
            await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
                await socket.SendAsync(burst, SocketFlags.None);
                await socket.ReceiveAsync(new byte[1024], SocketFlags.None);
                socket.LingerState = new LingerOption(true, 0);
            }));

            using var greedy = await RawClient.ConnectAsync(server.Port);
            greedy.Socket.ReceiveBufferSize = 4096;
            var batch = RawClientFrames.Concat(Enumerable.Repeat(RawClient.Get("/reply"), 64).ToArray());
            try
            {
                for (var i = 0; i < 64 && server.Metrics.Closed(CloseReason.BufferLimit) == 0; i++)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await greedy.Socket.SendAsync(batch, SocketFlags.None, cts.Token);
                    await Task.Delay(50);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // Reset by the server after the close.
            }

            await HostileServer.EventuallyAsync(() => server.Metrics.Closed(CloseReason.BufferLimit) == 1, "the greedy client was not closed at the buffer limit", TimeSpan.FromSeconds(30));
        });

        await server.AssertHealthyAsync();
    }

    private async Task<EtcdEngine> ConnectAsync()
    {
        var options = new EtcdEngineOptions { Prefix = EtcdFrontEnd.NewPrefix() };
        foreach (var endpoint in cluster.Endpoints)
        {
            options.Endpoints.Add(endpoint);
        }

        return await EtcdEngine.ConnectAsync(options);
    }
}
