using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Server;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Legacy.LegacyFrames;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Legacy;

/// <summary>
/// Pre-2.2 framing on the wire, for both tables: every command the table has, protocol detection,
/// and the semantics the old servers had (or where ours differs on purpose, docs/compatibility.md).
/// The 1.13 table is also exercised by the real client (<see cref="Torch113ClientTests"/>); the
/// 2.1 table only here, since no 2.1 client is installable on this machine.
/// </summary>
public sealed class LegacyWireTests
{
    public static TheoryData<LegacyProtocol> Tables() => new(LegacyProtocol.Torch113, LegacyProtocol.Torch21);

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task Every_common_command_works_in_the_table(LegacyProtocol table)
    {
        await using var server = await TestServer.StartAsync(o => o.LegacyProtocol = table);
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);

        await client.SendAsync(Encode(table,
            WireRequest.KeyValue(QueryType.Set, K("/a"), K("1")),
            WireRequest.KeyOnly(QueryType.Get, K("/a")),
            WireRequest.Add(K("/n"), 5),
            WireRequest.Add(K("/n"), -2),
            WireRequest.CompareSet(K("/a"), K("1"), K("2")),
            WireRequest.CompareSet(K("/a"), K("x"), K("3")),
            WireRequest.CompareSet(K("/none"), K("e"), K("3")),
            WireRequest.Multi(QueryType.Check, [K("/a"), K("/n")]),
            WireRequest.Multi(QueryType.Check, [K("/a"), K("/zz")]),
            WireRequest.Multi(QueryType.Wait, [K("/a")]),
            WireRequest.Bare(QueryType.GetNumKeys),
            WireRequest.KeyOnly(QueryType.DeleteKey, K("/a")),
            WireRequest.KeyOnly(QueryType.DeleteKey, K("/a")),
            WireRequest.MultiSet([K("/m1"), K("/m2")], [K("x"), K("y")]),
            WireRequest.Multi(QueryType.MultiGet, [K("/m2"), K("/m1")]),
            WireRequest.Bare(QueryType.CancelWait)));

        var expected = Concat(
            Blob("1"), Int64(5), Int64(3), Blob("2"), Blob("2"), Blob("e"),
            [Protocol.CheckReady], [Protocol.CheckNotReady], StopWaiting,
            Int64(2), Int64(1), Int64(0), Blob("y"), Blob("x"), WaitCanceled);
        Assert.Equal(expected, await client.ReceiveExactlyAsync(expected.Length));
        Assert.True(await client.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(100)));
        Assert.Equal("3"u8.ToArray(), server.Server.Store.Get(K("/n")));
    }

    [Fact]
    public async Task The_2_1_table_has_delete_at_7_and_append_at_8()
    {
        await using var server = await TestServer.StartAsync(o => o.LegacyProtocol = LegacyProtocol.Torch21);
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync([
            .. Encode(LegacyProtocol.Torch21, WireRequest.KeyValue(QueryType.Set, K("/a"), K("x"))),
            .. Frame(8, K("/a"), K("yz")), // APPEND
            .. Encode(LegacyProtocol.Torch21, WireRequest.KeyOnly(QueryType.Get, K("/a"))),
            .. Frame(7, K("/a")), // DELETE_KEY
        ]);

        Assert.Equal(Concat(Blob("xyz"), Int64(1)), await client.ReceiveExactlyAsync(19));
        Assert.Null(server.Server.Store.Get(K("/a")));
    }

    [Fact]
    public async Task The_1_13_table_has_watch_at_7_and_delete_at_8_and_takes_2_1_only_codes_as_2_1()
    {
        await using var server = await TestServer.StartAsync(o => o.LegacyProtocol = LegacyProtocol.Torch113);
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync([
            .. Encode(LegacyProtocol.Torch113, WireRequest.KeyValue(QueryType.Set, K("/a"), K("x"))),
            .. Frame(8, K("/a")), // DELETE_KEY
            .. Frame(7, K("/w")), // WATCH_KEY
            .. Frame(11), // CANCEL_WAIT: only 2.1 has code 11
        ]);

        Assert.Equal(Concat(Int64(1), [LegacyCodes.KeyCallbackRegistered], WaitCanceled), await client.ReceiveExactlyAsync(10));
    }

    [Fact]
    public async Task A_watch_connection_gets_created_updated_and_deleted_for_every_kind_of_write()
    {
        await using var server = await TestServer.StartAsync();
        const LegacyProtocol table = LegacyProtocol.Torch113;
        using var watcher = await RawClient.ConnectAsync(server.Port, validate: false);
        using var writer = await RawClient.ConnectAsync(server.Port, validate: false);
        using var modern = await RawClient.ConnectAsync(server.Port);

        await watcher.SendAsync(Encode(table, WireRequest.KeyOnly(QueryType.WatchKey, K("/w")), WireRequest.KeyOnly(QueryType.WatchKey, K("/n"))));
        Assert.Equal([3, 3], await watcher.ReceiveExactlyAsync(2));

        // Writes from a 1.13 connection, then from a 2.2+ connection (APPEND and MULTI_SET, which 1.13 lacks).
        await writer.SendAsync(Encode(table,
            WireRequest.KeyValue(QueryType.Set, K("/w"), K("a")),
            WireRequest.KeyValue(QueryType.Set, K("/w"), K("b")),
            WireRequest.KeyValue(QueryType.Set, K("/other"), K("ignored")),
            WireRequest.CompareSet(K("/w"), K("nope"), K("c")),
            WireRequest.CompareSet(K("/w"), K("b"), K("c")),
            WireRequest.Add(K("/n"), 4),
            WireRequest.Add(K("/n"), 1),
            WireRequest.KeyOnly(QueryType.DeleteKey, K("/w")),
            WireRequest.KeyOnly(QueryType.DeleteKey, K("/w")),
            WireRequest.CompareSet(K("/w"), K(string.Empty), K("d"))));
        var writerReplies = Concat(Blob("b"), Blob("c"), Int64(4), Int64(5), Int64(1), Int64(0), Blob("d"));
        Assert.Equal(writerReplies, await writer.ReceiveExactlyAsync(writerReplies.Length));
        await modern.SendAsync(Encode(
            WireRequest.KeyValue(QueryType.Append, K("/w"), K("e")),
            WireRequest.MultiSet([K("/n"), K("/w")], [K("7"), K("f")]),
            WireRequest.Ping(1)));
        Assert.Equal(UInt32(1), await modern.ReceiveExactlyAsync(4));

        var expected = Concat(
            Notification(KeyChange.Created, "/w", string.Empty, "a"),
            Notification(KeyChange.Updated, "/w", "a", "b"),
            Notification(KeyChange.Updated, "/w", "b", "c"),
            Notification(KeyChange.Created, "/n", string.Empty, "4"),
            Notification(KeyChange.Updated, "/n", "4", "5"),
            Notification(KeyChange.Deleted, "/w", "c", string.Empty),
            Notification(KeyChange.Created, "/w", string.Empty, "d"),
            Notification(KeyChange.Updated, "/w", "d", "de"),
            Notification(KeyChange.Updated, "/n", "5", "7"),
            Notification(KeyChange.Updated, "/w", "de", "f"));
        Assert.Equal(expected, await watcher.ReceiveExactlyAsync(expected.Length));
        Assert.True(await watcher.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(100)));

        // The watcher goes away: its registrations go with it, and writes carry on.
        var watchers = Assert.IsType<KeyWatchers>(server.Server.Store.KeyObserver);
        Assert.Equal(2, watchers.KeyCount);
        watcher.Dispose();
        Assert.True(await Eventually.TrueAsync(() => watchers.KeyCount == 0));
        await writer.SendAsync(Encode(table, WireRequest.Add(K("/n"), 1)));
        Assert.Equal(Int64(8), await writer.ReceiveExactlyAsync(8));
    }

    [Fact]
    public async Task A_1_13_connection_that_sends_anything_after_an_unanswered_wait_has_given_that_wait_up()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        using var other = await RawClient.ConnectAsync(server.Port, validate: false);
        const LegacyProtocol table = LegacyProtocol.Torch113;

        // The 1.13 client's wait timed out (it only stopped reading); its next request is GETNUMKEYS.
        await client.SendAsync(Encode(table, WireRequest.Multi(QueryType.Wait, [K("/late")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        await client.SendAsync(Encode(table, WireRequest.Bare(QueryType.GetNumKeys)));
        Assert.Equal(Int64(0), await client.ReceiveExactlyAsync(8));
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);

        // The key appearing now sends nothing that the client would misread as its next reply.
        await other.SendAsync(Encode(table, WireRequest.KeyValue(QueryType.Set, K("/late"), K("v"))));
        Assert.True(await client.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(200)));
        await client.SendAsync(Encode(table, WireRequest.Multi(QueryType.Wait, [K("/late")]), WireRequest.KeyOnly(QueryType.Get, K("/late"))));
        Assert.Equal(Concat(StopWaiting, Blob("v")), await client.ReceiveExactlyAsync(10));
    }

    [Fact]
    public async Task A_2_1_connection_keeps_its_wait_until_it_cancels_as_2_1_clients_do()
    {
        await using var server = await TestServer.StartAsync(o => o.LegacyProtocol = LegacyProtocol.Torch21);
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        const LegacyProtocol table = LegacyProtocol.Torch21;

        await client.SendAsync(Encode(table, WireRequest.Multi(QueryType.Wait, [K("/late")]), WireRequest.Bare(QueryType.GetNumKeys)));
        Assert.Equal(Int64(0), await client.ReceiveExactlyAsync(8));
        await client.SendAsync(Encode(table, WireRequest.KeyValue(QueryType.Set, K("/late"), K("v")), WireRequest.Bare(QueryType.CancelWait)));
        Assert.Equal(Concat(StopWaiting, WaitCanceled), await client.ReceiveExactlyAsync(2));
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task A_legacy_get_of_a_missing_key_replies_empty_and_keeps_the_connection(LegacyProtocol table)
    {
        await using var server = await TestServer.StartAsync(o => o.LegacyProtocol = table);
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync(Encode(table, WireRequest.KeyOnly(QueryType.Get, K("/missing")), WireRequest.Bare(QueryType.GetNumKeys)));
        Assert.Equal(Concat(Blob(string.Empty), Int64(0)), await client.ReceiveExactlyAsync(16));
    }

    [Fact]
    public async Task Detection_waits_for_five_bytes_only_while_they_could_still_be_validate()
    {
        await using var server = await TestServer.StartAsync();
        using var modern = await RawClient.ConnectAsync(server.Port, validate: false);
        using var legacy = await RawClient.ConnectAsync(server.Port, validate: false);

        // VALIDATE trickled in byte by byte is still VALIDATE: the connection then speaks 2.2+.
        foreach (var b in new byte[] { 0x00, 0xCE, 0xF7, 0x85, 0x3C })
        {
            await modern.SendAsync([b]);
            await Task.Delay(20);
        }

        await modern.SendAsync(Encode(WireRequest.Ping(7)));
        Assert.Equal(UInt32(7), await modern.ReceiveExactlyAsync(4));

        // A legacy SET (code 0) whose key length starts 0x05 is told apart at the second byte.
        var set = Encode(LegacyProtocol.Torch113, WireRequest.KeyValue(QueryType.Set, K("/five"), K("v")), WireRequest.KeyOnly(QueryType.Get, K("/five")));
        foreach (var b in set)
        {
            await legacy.SendAsync([b]);
        }

        Assert.Equal(Blob("v"), await legacy.ReceiveExactlyAsync(9));
    }

    [Fact]
    public async Task Bad_legacy_input_closes_only_that_connection_with_the_reason()
    {
        await using var server = await TestServer.StartAsync();
        using var healthy = await RawClient.ConnectAsync(server.Port, validate: false);
        using (var unknown = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await unknown.SendAsync([12]); // no table has 12
            Assert.True(await unknown.IsClosedByServerAsync());
        }

        using (var huge = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await huge.SendAsync(Concat([2], Int64(long.MaxValue))); // GET with an impossible key length
            Assert.True(await huge.IsClosedByServerAsync());
        }

        using (var text = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await text.SendAsync(Encode(LegacyProtocol.Torch113, WireRequest.KeyValue(QueryType.Set, K("/t"), K("abc")), WireRequest.Add(K("/t"), 1)));
            Assert.True(await text.IsClosedByServerAsync());
        }

        Assert.True(await Eventually.TrueAsync(() =>
            server.Server.Metrics.Closed(CloseReason.UnknownCommand) == 1
            && server.Server.Metrics.Closed(CloseReason.KeyTooLong) == 1
            && server.Server.Metrics.Closed(CloseReason.NonNumericAdd) == 1), server.Server.Metrics.ToString());
        await healthy.SendAsync(Encode(LegacyProtocol.Torch113, WireRequest.Bare(QueryType.GetNumKeys)));
        Assert.Equal(Int64(1), await healthy.ReceiveExactlyAsync(8));
    }

    [Fact]
    public async Task A_watcher_that_does_not_read_is_closed_at_the_buffer_limit_and_the_writer_carries_on()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxBufferedBytesPerConnection = 64 * 1024);
        const LegacyProtocol table = LegacyProtocol.Torch113;
        using var watcher = await RawClient.ConnectAsync(server.Port, validate: false);
        watcher.Socket.ReceiveBufferSize = 4096;
        using var writer = await RawClient.ConnectAsync(server.Port, validate: false);
        await watcher.SendAsync(Encode(table, WireRequest.KeyOnly(QueryType.WatchKey, K("/w"))));
        Assert.Equal([3], await watcher.ReceiveExactlyAsync(1));

        // Each SET of 16 KiB makes a notification of about 32 KiB; the watcher never reads them.
        var value = new byte[16 * 1024];
        var batch = Encode(table, [.. Enumerable.Range(0, 64).Select(_ => WireRequest.KeyValue(QueryType.Set, K("/w"), value)), WireRequest.Bare(QueryType.GetNumKeys)]);
        for (var round = 0; round < 20 && server.Server.Metrics.Closed(CloseReason.BufferLimit) == 0; round++)
        {
            await writer.SendAsync(batch);
            Assert.Equal(Int64(1), await writer.ReceiveExactlyAsync(8));
        }

        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Closed(CloseReason.BufferLimit) == 1), server.Server.Metrics.ToString());
        Assert.Equal(0, Assert.IsType<KeyWatchers>(server.Server.Store.KeyObserver).KeyCount);
    }

    [Fact]
    public async Task A_self_notification_larger_than_the_reply_budget_closes_the_connection()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxBufferedBytesPerConnection = 16 * 1024);
        const LegacyProtocol table = LegacyProtocol.Torch113;
        using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync(Encode(table, WireRequest.KeyValue(QueryType.Set, K("/big"), new byte[12 * 1024]), WireRequest.KeyOnly(QueryType.WatchKey, K("/big"))));
        Assert.Equal([3], await client.ReceiveExactlyAsync(1));

        // A 20-byte SET would make a 12 KiB notification (the old value) on top of a second one: past the budget.
        await client.SendAsync(Encode(table, WireRequest.KeyValue(QueryType.Set, K("/big"), K("x")), WireRequest.KeyValue(QueryType.Set, K("/big"), new byte[12 * 1024])));
        Assert.True(await client.IsClosedByServerAsync());
        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Closed(CloseReason.BufferLimit) == 1), server.Server.Metrics.ToString());
    }

    [Fact]
    public async Task Concurrent_writers_notify_a_busy_watcher_in_the_order_the_store_applied_them()
    {
        const int writers = 4;
        const int addsPerWriter = 200;
        const int extraWatches = 300;
        const LegacyProtocol table = LegacyProtocol.Torch113;
        await using var server = await TestServer.StartAsync(o => o.EventLoops = 2);
        using var watcher = await RawClient.ConnectAsync(server.Port, validate: false);
        await watcher.SendAsync(Encode(table, WireRequest.KeyOnly(QueryType.WatchKey, K("/w"))));
        Assert.Equal([3], await watcher.ReceiveExactlyAsync(1));

        // While the writers ADD to /w, the watcher keeps its own connection busy with more WATCH_KEYs
        // (acknowledged with 3, which no notification starts with), so notifications also arrive
        // while its requests are being processed on another thread.
        var watching = Task.Run(async () =>
        {
            for (var i = 0; i < extraWatches; i += 10)
            {
                await watcher.SendAsync(Encode(table, [.. Enumerable.Range(i, 10).Select(n => WireRequest.KeyOnly(QueryType.WatchKey, K("/d" + n)))]));
            }
        });
        var writing = Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            using var writer = await RawClient.ConnectAsync(server.Port, validate: false);
            for (var i = 0; i < addsPerWriter; i += 20)
            {
                await writer.SendAsync(Encode(table, [.. Enumerable.Range(0, 20).Select(_ => WireRequest.Add(K("/w"), 1))]));
                await writer.ReceiveExactlyAsync(20 * 8);
            }
        })).ToList();
        await Task.WhenAll([watching, .. writing]);

        var acks = 0;
        long previous = 0;
        for (var notified = 0; notified < writers * addsPerWriter;)
        {
            var type = await watcher.ReadByteAsync();
            if (type == LegacyCodes.KeyCallbackRegistered)
            {
                acks++;
                continue;
            }

            Assert.Equal(previous == 0 ? (byte)KeyChange.Created : (byte)KeyChange.Updated, type);
            Assert.Equal("/w", System.Text.Encoding.ASCII.GetString(await watcher.ReadBlobAsync()));
            var oldValue = System.Text.Encoding.ASCII.GetString(await watcher.ReadBlobAsync());
            var newValue = long.Parse(System.Text.Encoding.ASCII.GetString(await watcher.ReadBlobAsync()), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(previous == 0 ? string.Empty : previous.ToString(System.Globalization.CultureInfo.InvariantCulture), oldValue);
            Assert.Equal(previous + 1, newValue);
            previous = newValue;
            notified++;
        }

        while (acks < extraWatches)
        {
            Assert.Equal(LegacyCodes.KeyCallbackRegistered, await watcher.ReadByteAsync());
            acks++;
        }

        Assert.True(await watcher.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(100)));
    }

    private static byte[] Frame(byte code, params byte[][] blobs) => [code, .. blobs.SelectMany(Blob)];
}
