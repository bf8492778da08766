using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// Lengths and counts a client cannot have meant: each is rejected as soon as its 8 bytes arrive,
/// without allocating for it or waiting for the payload.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class LengthLimitTests
{
    private static readonly CodecLimits Limits = CodecLimits.Default;

    public static TheoryData<string, CloseReason> Cases() => new()
    {
        { "key-2^63", CloseReason.KeyTooLong },
        { "key-2^64-1", CloseReason.KeyTooLong },
        { "key-limit+1", CloseReason.KeyTooLong },
        { "value-2^63", CloseReason.ValueTooLong },
        { "value-2^64-1", CloseReason.ValueTooLong },
        { "value-limit+1", CloseReason.ValueTooLong },
        { "desired-limit+1", CloseReason.ValueTooLong },
        { "wait-count-limit+1", CloseReason.TooManyKeys },
        { "multiset-count-limit+1", CloseReason.TooManyKeys },
        { "multiget-count-2^64-1", CloseReason.TooManyKeys },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Impossible_length_closes_the_connection_without_allocating(string name, CloseReason reason)
    {
        await using var server = await HostileServer.StartAsync();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        string? peer = null;
        await server.UnderAttackAsync(async () =>
        {
            using var attacker = await RawClient.ConnectAsync(server.Port);
            peer = attacker.Socket.LocalEndPoint!.ToString();
            await attacker.SendAsync(Frame(name));
            Assert.True(await attacker.IsClosedByServerAsync(), $"{name}: not closed");
        });

        await HostileServer.EventuallyAsync(() => server.Metrics.Closed(reason) == 1, $"{reason} not counted once");
        Assert.Equal(1, server.Log.CountContaining(peer!, reason.ToString()));
        await server.AssertHealthyAsync();
        // Nothing close to the announced size was ever allocated (the smallest case announces 8 MiB + 1).
        var grown = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        Assert.True(grown < 4 * 1024 * 1024, $"managed heap grew by {grown} bytes");
    }

    [Fact]
    public async Task Lengths_exactly_at_the_limits_are_accepted()
    {
        // The other side of "one byte over": the boundary itself is legal.
        await using var server = await HostileServer.StartAsync(o => o.MaxValueLength = 1024);
        using var client = await RawClient.ConnectAsync(server.Port);
        var key = new string('k', (int)Limits.MaxKeyLength);
        var value = new string('v', 1024);
        await client.SendAsync(RawClient.Set(key, value));
        await client.SendAsync(RawClient.Get(key));
        Assert.Equal(1024, (await client.ReadBlobAsync()).Length);
        var keys = Enumerable.Range(0, (int)Limits.MaxKeysPerRequest).Select(i => key[..1] + i).ToArray();
        await client.SendAsync(RawClient.Multi(QueryType.Check, keys));
        Assert.Equal(Protocol.CheckNotReady, await client.ReadByteAsync());
        Assert.Equal(0, server.Metrics.Closed(CloseReason.KeyTooLong) + server.Metrics.Closed(CloseReason.ValueTooLong) + server.Metrics.Closed(CloseReason.TooManyKeys));
    }

    private static byte[] Frame(string name) => name switch
    {
        "key-2^63" => RawClientFrames.WithLength(QueryType.Get, 1UL << 63),
        "key-2^64-1" => RawClientFrames.WithLength(QueryType.Set, ulong.MaxValue),
        "key-limit+1" => RawClientFrames.WithLength(QueryType.Get, (ulong)Limits.MaxKeyLength + 1),
        "value-2^63" => RawClientFrames.SetWithValueLength("/k", 1UL << 63),
        "value-2^64-1" => RawClientFrames.SetWithValueLength("/k", ulong.MaxValue),
        "value-limit+1" => RawClientFrames.SetWithValueLength("/k", (ulong)Limits.MaxValueLength + 1),
        "desired-limit+1" => RawClientFrames.CompareSetWithDesiredLength("/k", (ulong)Limits.MaxValueLength + 1),
        "wait-count-limit+1" => RawClientFrames.WithLength(QueryType.Wait, (ulong)Limits.MaxKeysPerRequest + 1),
        "multiset-count-limit+1" => RawClientFrames.WithLength(QueryType.MultiSet, (ulong)Limits.MaxKeysPerRequest + 1),
        "multiget-count-2^64-1" => RawClientFrames.WithLength(QueryType.MultiGet, ulong.MaxValue),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
