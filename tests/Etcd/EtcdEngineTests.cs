using System.Text;
using TcpStore.Client;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>The etcd engine through real connections: every operation, pipelining, and two front-ends sharing one store.</summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdEngineTests(EtcdTestCluster cluster)
{
    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static string S(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private static ValueTask<TcpStoreClient> ConnectAsync(int port) =>
        TcpStoreClient.ConnectAsync(new TcpStoreClientOptions { Port = port, Timeout = TimeSpan.FromSeconds(20) });

    [Fact]
    public async Task Every_operation_gives_the_in_memory_engines_answers()
    {
        await using var memory = await TestServer.StartAsync();
        await using var etcd = await EtcdFrontEnd.StartAsync(cluster.Endpoints, EtcdFrontEnd.NewPrefix());
        var expected = await RunScriptAsync(memory.Port);
        var actual = await RunScriptAsync(etcd.Port);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task A_multi_set_larger_than_one_etcd_transaction_is_applied_whole_and_read_back_at_one_revision()
    {
        // 300 keys: three transactions at the default 128 operations (etcd's default --max-txn-ops).
        await using var etcd = await EtcdFrontEnd.StartAsync(cluster.Endpoints, EtcdFrontEnd.NewPrefix());
        await using var c = await ConnectAsync(etcd.Port);
        var keys = Enumerable.Range(0, 300).Select(i => B($"big/{i}")).ToList();
        await c.MultiSetAsync(keys, [.. keys.Select(k => B("v:" + S(k)))]);
        var values = await c.MultiGetAsync(keys);
        Assert.Equal(keys.Select(k => "v:" + S(k)), values.Select(S));
        Assert.Equal(300, await c.NumKeysAsync());
    }

    [Fact]
    public async Task A_wait_on_one_front_end_is_released_by_a_set_on_another()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var waiter = await ConnectAsync(a.Port);
        await using var setter = await ConnectAsync(b.Port);

        var wait = waiter.WaitAsync([B("ready")], TimeSpan.FromSeconds(20)).AsTask();
        await Task.Delay(300);
        Assert.False(wait.IsCompleted);
        await setter.SetAsync(B("ready"), B("go"));
        await wait.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("go", S(await waiter.GetAsync(B("ready"))));
        Assert.Equal(0, a.Engine.AwaitedKeyCount);
    }

    [Fact]
    public async Task Pipelined_requests_are_answered_in_order_and_a_self_wake_precedes_the_writes_reply()
    {
        await using var etcd = await EtcdFrontEnd.StartAsync(cluster.Endpoints, EtcdFrontEnd.NewPrefix());
        using var client = await RawClient.ConnectAsync(etcd.Port);
        var cas = RawClient.Frame(w => RequestWriter.WriteCompareSet(w, default, B("k"), [], B("v")));
        await client.SendAsync([
            .. RawClient.Multi(QueryType.Wait, "k"),
            .. cas,
            .. RawClient.Add("n", 5),
            .. RawClient.Get("k"),
            .. RawClient.Add("n", 2),
        ]);
        Assert.Equal(Protocol.StopWaiting, await client.ReadByteAsync());
        Assert.Equal("v", S(await client.ReadBlobAsync()));
        Assert.Equal(5, await client.ReadInt64Async());
        Assert.Equal("v", S(await client.ReadBlobAsync()));
        Assert.Equal(7, await client.ReadInt64Async());
    }

    [Fact]
    public async Task An_add_on_a_non_number_closes_only_its_connection_after_the_earlier_replies()
    {
        await using var etcd = await EtcdFrontEnd.StartAsync(cluster.Endpoints, EtcdFrontEnd.NewPrefix());
        using var other = await RawClient.ConnectAsync(etcd.Port);
        using var client = await RawClient.ConnectAsync(etcd.Port);
        await client.SendAsync([.. RawClient.Set("text", "abc"), .. RawClient.Get("text"), .. RawClient.Add("text", 1), .. RawClient.Get("text")]);
        Assert.Equal("abc", S(await client.ReadBlobAsync()));
        Assert.True(await client.IsClosedByServerAsync());

        await other.SendAsync(RawClient.Get("text"));
        Assert.Equal("abc", S(await other.ReadBlobAsync()));
    }

    // One client's scripted calls over every operation; the transcript is compared across engines.
    private static async Task<List<string>> RunScriptAsync(int port)
    {
        var log = new List<string>();
        await using var c = await ConnectAsync(port);
        await c.SetAsync(B("a"), B("1"));
        log.Add(S(await c.GetAsync(B("a"))));
        log.Add((await c.AddAsync(B("a"), 41)).ToString());
        log.Add((await c.AddAsync(B("fresh"), -3)).ToString());
        await c.AppendAsync(B("log"), B("x"));
        await c.AppendAsync(B("log"), B("y"));
        log.Add(S(await c.GetAsync(B("log"))));
        log.Add(S(await c.CompareSetAsync(B("cas"), B("nope"), B("v1"))));
        log.Add(S(await c.CompareSetAsync(B("cas"), Array.Empty<byte>(), B("v1"))));
        log.Add(S(await c.CompareSetAsync(B("cas"), B("wrong"), B("v2"))));
        log.Add(S(await c.CompareSetAsync(B("cas"), B("v1"), B("v2"))));
        log.Add((await c.CheckAsync([B("a"), B("cas")])).ToString());
        log.Add((await c.CheckAsync([B("a"), B("missing")])).ToString());
        await c.WaitAsync([B("a"), B("log")], TimeSpan.FromSeconds(5));
        await c.MultiSetAsync([B("m1"), B("m2"), B("m1")], [B("one"), B("two"), B("uno")]);
        log.Add(string.Join(",", (await c.MultiGetAsync([B("m1"), B("m2"), B("a")])).Select(S)));
        log.Add((await c.NumKeysAsync()).ToString());
        log.Add(string.Join(",", (await c.ListKeysAsync()).Select(S).Order(StringComparer.Ordinal)));
        log.Add((await c.DeleteKeyAsync(B("m2"))).ToString());
        log.Add((await c.DeleteKeyAsync(B("m2"))).ToString());
        log.Add((await c.NumKeysAsync()).ToString());
        await c.QueuePushAsync(B("q"), B("first"));
        await c.QueuePushAsync(B("q"), B("second"));
        await c.QueuePushAsync(B("a"), B("queue named like a key"));
        log.Add((await c.QueueLengthAsync(B("q"))).ToString());
        log.Add(S(await c.QueuePopAsync(B("q"), block: false)));
        log.Add((await c.QueueLengthAsync(B("q"))).ToString());
        log.Add(S(await c.QueuePopAsync(B("q"), block: true, TimeSpan.FromSeconds(5))));
        log.Add((await c.QueueLengthAsync(B("q"))).ToString());
        log.Add((await c.NumKeysAsync()).ToString());
        log.Add((await c.CheckAsync([B("q")])).ToString());
        log.Add((await c.QueueLengthAsync(B("a"))).ToString());
        log.Add(S(await c.GetAsync(B("a"))));
        await c.PingAsync();
        return log;
    }
}
