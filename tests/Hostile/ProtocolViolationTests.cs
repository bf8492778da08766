using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Malformed conversations: each closes only the offender, is logged with its address and counted by reason.</summary>
[Collection(HostileCollection.Name)]
public sealed class ProtocolViolationTests
{
    private const int Attempts = 25;

    public static TheoryData<string, CloseReason> Violations() => new()
    {
        { "no-validate", CloseReason.NotValidated },
        { "ping-before-validate", CloseReason.NotValidated },
        { "wrong-magic", CloseReason.NotValidated },
        { "second-validate", CloseReason.RepeatedValidate },
        { "unknown-18", CloseReason.UnknownCommand },
        { "unknown-255", CloseReason.UnknownCommand },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task Violation_closes_only_the_offender_and_is_logged_and_counted(string violation, CloseReason reason)
    {
        await using var server = await HostileServer.StartAsync(o =>
        {
            o.WarningsPerSecond = 5;
            o.LegacyProtocol = LegacyProtocol.Off; // validation violations; pre-2.2 clients are tests/Legacy
        });
        var peers = new List<string>();
        await server.UnderAttackAsync(async () =>
        {
            for (var i = 0; i < Attempts; i++)
            {
                using var attacker = await RawClient.ConnectAsync(server.Port, validate: false);
                peers.Add(attacker.Socket.LocalEndPoint!.ToString()!);
                await attacker.SendAsync(Bytes(violation));
                Assert.True(await attacker.IsClosedByServerAsync(), $"{violation}: connection {i} was not closed");
            }
        });

        await HostileServer.EventuallyAsync(() => server.Metrics.Closed(reason) == Attempts, $"{reason} counted {server.Metrics.Closed(reason)} times, expected {Attempts}");
        // The first attack in each second is logged with the peer's address; the flood is rate limited.
        Assert.Equal(1, server.Log.CountContaining(peers[0], reason.ToString()));
        var logged = server.Log.CountContaining("closed connection from", reason.ToString());
        Assert.InRange(logged, 1, Attempts - 1);
        await server.AssertHealthyAsync();
    }

    private static byte[] Bytes(string violation) => violation switch
    {
        "no-validate" => RawClient.Get("/k"),
        "ping-before-validate" => RawClientFrames.Ping(1),
        "wrong-magic" => RawClientFrames.Validate(Protocol.ValidationMagic ^ 1),
        "second-validate" => RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Validate()),
        "unknown-18" => RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Bare(18)),
        "unknown-255" => RawClientFrames.Concat(RawClientFrames.Validate(), RawClientFrames.Bare(255)),
        _ => throw new ArgumentOutOfRangeException(nameof(violation)),
    };
}
