using System.Buffers;
using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Server;

/// <summary>Each class of bad input closes only the offending connection, is counted, and leaves others served.</summary>
public sealed class BadInputTests
{
    private static byte[] K(string text) => RawClient.Key(text);

    private static readonly byte[] Validate = Encode(WireRequest.Validate());

    private static readonly Dictionary<string, (byte[] Bytes, CloseReason Reason)> Cases = new()
    {
        ["no VALIDATE (PING first)"] = (Encode(WireRequest.Ping(1)), CloseReason.NotValidated),
        ["no VALIDATE (SET first)"] = (Encode(WireRequest.KeyValue(QueryType.Set, K("k"), K("v"))), CloseReason.NotValidated),
        ["wrong magic"] = (Encode(WireRequest.Validate(0xCE_F7_85_3C)), CloseReason.NotValidated),
        ["second VALIDATE"] = ([.. Validate, .. Validate], CloseReason.RepeatedValidate),
        ["unknown command 18"] = ([.. Validate, 18], CloseReason.UnknownCommand),
        ["unknown command 255"] = ([.. Validate, 255], CloseReason.UnknownCommand),
        ["key over the limit, payload absent"] = ([.. Validate, .. Header(QueryType.Get, 8193)], CloseReason.KeyTooLong),
        ["key length 2^64-1"] = ([.. Validate, .. Header(QueryType.Set, ulong.MaxValue)], CloseReason.KeyTooLong),
        ["value over the limit, payload absent"] = ([.. Validate, .. Header(QueryType.Set, 1), (byte)'k', .. Int64((8 * 1024 * 1024) + 1)], CloseReason.ValueTooLong),
        ["value length 2^63"] = ([.. Validate, .. Header(QueryType.QueuePush, 1), (byte)'k', .. Int64(long.MinValue)], CloseReason.ValueTooLong),
        ["key count over the limit"] = ([.. Validate, .. Header(QueryType.Wait, 131_073)], CloseReason.TooManyKeys),
        ["non-numeric ADD"] = (
            [.. Validate, .. Encode(WireRequest.KeyValue(QueryType.Set, K("text"), K("abc")), WireRequest.Add(K("text"), 1))],
            CloseReason.NonNumericAdd),
        ["ADD on an overflowing value"] = (
            [.. Validate, .. Encode(WireRequest.KeyValue(QueryType.Set, K("text"), K("9223372036854775808")), WireRequest.Add(K("text"), 1))],
            CloseReason.NonNumericAdd),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    // These cases are about 2.2+ validation; with a legacy table on, unvalidated bytes are a pre-2.2 client (tests/Legacy).
    private static void ModernOnly(TcpStoreServerOptions options) => options.LegacyProtocol = LegacyProtocol.Off;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Bad_input_closes_only_that_connection_and_is_counted(string name)
    {
        var (bytes, reason) = Cases[name];
        await using var server = await TestServer.StartAsync(ModernOnly);
        using var healthy = await RawClient.ConnectAsync(server.Port);
        await healthy.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("h"), K("ok")), WireRequest.Multi(QueryType.Wait, [K("later")])));

        using (var bad = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await bad.SendAsync(bytes);
            Assert.True(await bad.IsClosedByServerAsync(), $"{name}: connection left open");
        }

        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Closed(reason) == 1), $"{name}: {server.Server.Metrics}");
        Assert.Equal(1, server.Server.Metrics.Active);
        foreach (var other in Enum.GetValues<CloseReason>().Where(r => r != reason && r != CloseReason.ClientClosed))
        {
            Assert.Equal(0, server.Server.Metrics.Closed(other));
        }

        // The healthy client's pending wait and its data are intact, and it keeps being served.
        using var writer = await RawClient.ConnectAsync(server.Port);
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("later"), K("1"))));
        Assert.Equal(Protocol.StopWaiting, await healthy.ReadByteAsync());
        await healthy.SendAsync(Encode(WireRequest.KeyOnly(QueryType.Get, K("h")), WireRequest.Ping(9)));
        Assert.Equal(Concat(Blob("ok"), UInt32(9)), await healthy.ReceiveExactlyAsync(14));
        if (reason == CloseReason.NonNumericAdd)
        {
            // The failed ADD changed nothing: the value is still what the SET stored.
            var stored = System.Text.Encoding.ASCII.GetString(server.Server.Store.Get(K("text"))!);
            Assert.Contains(stored, new[] { "abc", "9223372036854775808" });
        }
    }

    [Fact]
    public async Task Replies_before_the_bad_request_in_the_same_read_are_still_delivered()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync([.. Validate, .. Encode(WireRequest.Ping(5), WireRequest.KeyValue(QueryType.Set, K("t"), K("x")), WireRequest.Add(K("t"), 1), WireRequest.Ping(6))]);
        Assert.Equal(UInt32(5), await client.ReceiveExactlyAsync(4));
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Equal("x", System.Text.Encoding.ASCII.GetString(server.Server.Store.Get(K("t"))!));
    }

    [Theory]
    [InlineData("SET header of an unvalidated connection", false)]
    [InlineData("VALIDATE byte after validation", true)]
    public async Task A_first_byte_that_can_never_be_valid_closes_at_once_without_waiting_for_the_frame(string name, bool validated)
    {
        await using var server = await TestServer.StartAsync(ModernOnly);
        using var client = await RawClient.ConnectAsync(server.Port, validate: validated);

        // Only the start of a frame: waiting for the rest would let an unvalidated peer pin buffers.
        byte[] partial = validated ? [(byte)QueryType.Validate, 0xCE] : [.. Header(QueryType.Set, 4000)[..5]];
        await client.SendAsync(partial);
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), $"{name}: still open");
        var reason = validated ? CloseReason.RepeatedValidate : CloseReason.NotValidated;
        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Closed(reason) == 1), server.Server.Metrics.ToString());
    }

    [Fact]
    public async Task An_unvalidated_oversized_first_request_is_counted_as_not_validated()
    {
        await using var server = await TestServer.StartAsync(ModernOnly);
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync(Header(QueryType.Get, ulong.MaxValue));
        Assert.True(await client.IsClosedByServerAsync());
        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Closed(CloseReason.NotValidated) == 1), server.Server.Metrics.ToString());
    }

    private static byte[] Header(QueryType type, ulong length)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.WriteByte((byte)type);
        buffer.WriteUInt64(length);
        return buffer.WrittenSpan.ToArray();
    }
}
