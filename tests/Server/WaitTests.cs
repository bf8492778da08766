using TcpStore.Codec;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Server;

/// <summary>WAIT, CANCEL_WAIT and blocking queue pops across connections (PROTOCOL.md §4).</summary>
public sealed class WaitTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    private static byte[] K(string text) => RawClient.Key(text);

    [Fact]
    public async Task A_wait_is_released_by_a_set_on_another_connection()
    {
        await using var server = await TestServer.StartAsync();
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("a"), K("b")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 2));

        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("a"), K("1"))));
        Assert.True(await waiter.NothingArrivesWithinAsync(Quiet), "woken while b is still missing");
        await writer.SendAsync(Encode(WireRequest.MultiSet([K("b")], [K("2")])));
        Assert.Equal(Protocol.StopWaiting, await waiter.ReadByteAsync());

        await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.MultiGet, [K("a"), K("b")])));
        Assert.Equal(Concat(Blob("1"), Blob("2")), await waiter.ReceiveExactlyAsync(18));
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
    }

    [Theory]
    [InlineData("add")]
    [InlineData("append")]
    [InlineData("compare_set creating the key")]
    public async Task Every_creating_write_wakes_all_waiters(string write)
    {
        await using var server = await TestServer.StartAsync();
        using var first = await RawClient.ConnectAsync(server.Port);
        using var second = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await first.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("w")])));
        await second.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("w")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeys().Sum(p => p.Value) == 2));
        await writer.SendAsync(Encode(write switch
        {
            "add" => WireRequest.Add(K("w"), 1),
            "append" => WireRequest.KeyValue(QueryType.Append, K("w"), K("x")),
            _ => WireRequest.CompareSet(K("w"), [], K("x")),
        }));
        Assert.Equal(Protocol.StopWaiting, await first.ReadByteAsync());
        Assert.Equal(Protocol.StopWaiting, await second.ReadByteAsync());
    }

    [Fact]
    public async Task Compare_set_that_leaves_the_key_missing_and_delete_wake_nobody()
    {
        await using var server = await TestServer.StartAsync();
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("s")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        await writer.SendAsync(Encode(WireRequest.CompareSet(K("s"), K("nonempty"), K("x")), WireRequest.KeyOnly(QueryType.DeleteKey, K("s"))));
        Assert.Equal(Concat(Blob("nonempty"), Int64(0)), await writer.ReceiveExactlyAsync(24));
        Assert.True(await waiter.NothingArrivesWithinAsync(Quiet));
        Assert.Equal(1, server.Server.Store.AwaitedKeyCount);
    }

    [Fact]
    public async Task Cancel_after_the_wake_gets_STOP_WAITING_then_WAIT_CANCELED()
    {
        await using var server = await TestServer.StartAsync();
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("r")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("r"), K("1"))));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.Get(K("r")) is not null));

        // The client timed out just as the key arrived: it reads the wake first, then the cancel.
        await waiter.SendAsync(Encode(WireRequest.Bare(QueryType.CancelWait)));
        Assert.Equal(Concat(StopWaiting, WaitCanceled), await waiter.ReceiveExactlyAsync(2));
        Assert.True(await waiter.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public async Task Racing_wake_and_cancel_always_yield_WAIT_CANCELED_last_and_no_late_wake()
    {
        // Two loops put the waiter and the writer on different threads: on one loop the order of the
        // two within a pass decides the race the same way every time.
        await using var server = await TestServer.StartAsync(o => o.EventLoops = 2);
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < 150; i++)
        {
            var key = K($"race{i}");
            await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [key])));
            Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
            // Which of the two goes out first alternates, so both sides get their chance to win.
            var set = Encode(WireRequest.KeyValue(QueryType.Set, key, K("v")));
            var cancel = Encode(WireRequest.Bare(QueryType.CancelWait), WireRequest.Ping((uint)i));
            await (i % 2 == 0
                ? Task.WhenAll(writer.SendAsync(set), waiter.SendAsync(cancel))
                : Task.WhenAll(waiter.SendAsync(cancel), writer.SendAsync(set)));

            // Either the cancel won (WAIT_CANCELED alone) or the wake won (STOP_WAITING first).
            var first = await waiter.ReadByteAsync();
            var reply = first == Protocol.StopWaiting ? Concat([first], await waiter.ReceiveExactlyAsync(5)) : Concat([first], await waiter.ReceiveExactlyAsync(4));
            var text = Convert.ToHexString(reply);
            Assert.True(
                text == Convert.ToHexString(Concat(WaitCanceled, UInt32((uint)i))) || text == Convert.ToHexString(Concat(StopWaiting, WaitCanceled, UInt32((uint)i))),
                $"iteration {i}: {text}");
            outcomes[text.Length > 10 ? "wake first" : "cancel first"] = outcomes.GetValueOrDefault(text.Length > 10 ? "wake first" : "cancel first") + 1;
            Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
        }

        Assert.True(await waiter.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(50)));
        TestContext.Current.SendDiagnosticMessage("race outcomes: " + string.Join(", ", outcomes.Select(p => $"{p.Key}={p.Value}")));
        // A race test that only ever saw one side of the race has tested nothing about the other.
        Assert.True(outcomes.Count == 2, "only one outcome was seen: " + string.Join(", ", outcomes.Select(p => $"{p.Key}={p.Value}")));
    }

    [Fact]
    public async Task Cancel_with_nothing_pending_and_after_a_completed_wait_still_replies_WAIT_CANCELED()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Encode(
            WireRequest.Bare(QueryType.CancelWait),
            WireRequest.KeyValue(QueryType.Set, K("x"), K("1")),
            WireRequest.Multi(QueryType.Wait, [K("x")]),
            WireRequest.Bare(QueryType.CancelWait),
            WireRequest.Bare(QueryType.CancelWait)));
        Assert.Equal(Concat(WaitCanceled, StopWaiting, WaitCanceled, WaitCanceled), await client.ReceiveExactlyAsync(4));
    }

    [Fact]
    public async Task A_canceled_wait_is_not_woken_later()
    {
        await using var server = await TestServer.StartAsync();
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("c")]), WireRequest.Bare(QueryType.CancelWait)));
        Assert.Equal(WaitCanceled, await waiter.ReceiveExactlyAsync(1));
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("c"), K("1"))));
        Assert.True(await waiter.NothingArrivesWithinAsync(Quiet));
    }

    [Fact]
    public async Task Blocking_queue_pop_is_released_by_a_push_from_another_connection()
    {
        await using var server = await TestServer.StartAsync();
        using var consumer = await RawClient.ConnectAsync(server.Port);
        using var producer = await RawClient.ConnectAsync(server.Port);

        // The real client's blocking pop: WAIT on the queue name, then QUEUE_POP.
        await consumer.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("/jobs")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        await producer.SendAsync(Encode(WireRequest.KeyValue(QueryType.QueuePush, K("/jobs"), K("job-1"))));
        Assert.Equal(Protocol.StopWaiting, await consumer.ReadByteAsync());
        await consumer.SendAsync(Encode(WireRequest.KeyOnly(QueryType.QueuePop, K("/jobs"))));
        Assert.Equal(Concat(Int64(1), Blob("job-1")), await consumer.ReceiveExactlyAsync(21));
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
    }

    [Fact]
    public async Task A_push_wakes_only_the_oldest_of_two_queue_waiters()
    {
        await using var server = await TestServer.StartAsync();
        using var older = await RawClient.ConnectAsync(server.Port);
        using var newer = await RawClient.ConnectAsync(server.Port);
        using var producer = await RawClient.ConnectAsync(server.Port);
        await older.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("q")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeys().Sum(p => p.Value) == 1));
        await newer.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("q")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeys().Sum(p => p.Value) == 2));

        await producer.SendAsync(Encode(WireRequest.KeyValue(QueryType.QueuePush, K("q"), K("one"))));
        Assert.Equal(Protocol.StopWaiting, await older.ReadByteAsync());
        Assert.True(await newer.NothingArrivesWithinAsync(Quiet), "a single push woke both waiters");
        await older.SendAsync(Encode(WireRequest.KeyOnly(QueryType.QueuePop, K("q"))));
        Assert.Equal(Concat(Int64(1), Blob("one")), await older.ReceiveExactlyAsync(19));

        await producer.SendAsync(Encode(WireRequest.KeyValue(QueryType.QueuePush, K("q"), K("two"))));
        Assert.Equal(Protocol.StopWaiting, await newer.ReadByteAsync());
        await newer.SendAsync(Encode(WireRequest.KeyOnly(QueryType.QueuePop, K("q"))));
        Assert.Equal(Concat(Int64(1), Blob("two")), await newer.ReceiveExactlyAsync(19));
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
    }

    [Fact]
    public async Task Disconnecting_while_waiting_leaves_the_registry_empty()
    {
        await using var server = await TestServer.StartAsync();
        var clients = new List<RawClient>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var client = await RawClient.ConnectAsync(server.Port);
                clients.Add(client);
                await client.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K($"gone{i % 3}"), K("shared")])));
            }

            Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 4));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 0), $"still awaited: {server.Server.Store.AwaitedKeyCount}");
        Assert.True(await Eventually.TrueAsync(() => server.Server.Metrics.Active == 0));

        // Nothing is left that a later write could try to wake.
        using var writer = await RawClient.ConnectAsync(server.Port);
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("shared"), K("1")), WireRequest.Ping(3)));
        Assert.Equal(UInt32(3), await writer.ReceiveExactlyAsync(4));
    }

    [Fact]
    public async Task A_wait_mixing_a_non_empty_queue_and_a_missing_key_registers_only_the_missing_key()
    {
        await using var server = await TestServer.StartAsync();
        using var waiter = await RawClient.ConnectAsync(server.Port);
        using var writer = await RawClient.ConnectAsync(server.Port);
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.QueuePush, K("ready"), K("x")), WireRequest.Ping(0)));
        await writer.ReceiveExactlyAsync(4);

        await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [K("ready"), K("missing")])));
        Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeyCount == 1));
        var awaited = Assert.Single(server.Server.Store.AwaitedKeys());
        Assert.Equal("missing", System.Text.Encoding.ASCII.GetString(awaited.Key));

        // libuv would also count the queue key and then need a second wake; here one SET completes it.
        await writer.SendAsync(Encode(WireRequest.KeyValue(QueryType.Set, K("missing"), K("1"))));
        Assert.Equal(Protocol.StopWaiting, await waiter.ReadByteAsync());
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
    }
}
