using System.Diagnostics;
using System.Text;
using TcpStore.Client;

namespace TcpStore.Tests.Client;

/// <summary>Every store call of <see cref="TcpStoreClient"/>, against our server and both real PyTorch backends.</summary>
public sealed class ClientApiTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static string S(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Key_value_calls_async(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();

        await client.SetAsync("k", "v1");
        Assert.Equal("v1", await client.GetStringAsync("k"));
        await client.SetAsync(B("bin"), new byte[] { 0, 255, 10 });
        Assert.Equal(new byte[] { 0, 255, 10 }, await client.GetAsync(B("bin")));

        Assert.Equal(5, await client.AddAsync("cnt", 5));
        Assert.Equal(-2, await client.AddAsync(B("cnt"), -7));
        Assert.Equal("-2", await client.GetStringAsync("cnt"));

        Assert.Equal("v2", await client.CompareSetAsync("k", "v1", "v2"));
        Assert.Equal("v2", await client.CompareSetAsync("k", "nope", "x"));
        Assert.Equal("expected", await client.CompareSetAsync("missing", "expected", "x"));
        Assert.False(await client.CheckAsync(["missing"]));
        Assert.Equal("made", await client.CompareSetAsync("new", string.Empty, "made"));

        Assert.True(await client.CheckAsync(["k", "new"]));
        Assert.False(await client.CheckAsync(["k", "zzz"]));
        Assert.True(await client.CheckAsync(Array.Empty<string>()));

        await client.AppendAsync("k", "+s");
        await client.AppendAsync("fresh", "xy");
        Assert.Equal("v2+s", await client.GetStringAsync("k"));
        Assert.Equal("xy", await client.GetStringAsync("fresh"));

        await client.MultiSetAsync(["m1", "m2"], ["a", string.Empty]);
        var values = await client.MultiGetAsync(["m1", "m2", "k"]);
        Assert.Equal(["a", string.Empty, "v2+s"], values.Select(S));

        Assert.True(await client.DeleteKeyAsync("fresh"));
        Assert.False(await client.DeleteKeyAsync("fresh"));

        var expectedKeys = new[] { "bin", "cnt", "k", "m1", "m2", "new" };
        Assert.Equal(expectedKeys.Length, await client.NumKeysAsync());
        Assert.Equal(expectedKeys, (await client.ListKeyStringsAsync()).Order(StringComparer.Ordinal));
        Assert.True(await client.PingAsync() > TimeSpan.Zero);
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Key_value_calls_sync(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        using var client = TcpStoreClient.Connect(server.ClientOptions());

        client.Set("k", "v1");
        Assert.Equal(B("v1"), client.Get("k"));
        Assert.Equal(3, client.Add(B("c"), 3));
        Assert.Equal("3", client.CompareSet("c", "3", "3"));
        Assert.Equal(B("z"), client.CompareSet(B("c"), B("3"), B("z")));
        Assert.True(client.Check("k", "c"));
        client.Wait(["k", "c"], Short);
        client.Append(B("k"), B("!"));
        client.MultiSet([B("a"), B("b")], [B("1"), B("2")]);
        Assert.Equal(["1", "2", "v1!"], client.MultiGet("a", "b", "k").Select(S));
        Assert.True(client.DeleteKey(B("a")));
        Assert.Equal(3, client.NumKeys());
        Assert.Equal(["b", "c", "k"], client.ListKeyStrings().Order(StringComparer.Ordinal));
        Assert.True(client.Ping() > TimeSpan.Zero);
        var timeout = Assert.Throws<TcpStoreTimeoutException>(() => client.Wait("nope", Short));
        Assert.True(timeout.MissingKeys.SequenceEqual(["nope"]), timeout.ToString());
        Assert.Equal("v1!", client.GetString("k"));
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Wait_timeout_cancels_names_missing_keys_and_keeps_the_client_usable(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();
        await client.SetAsync("here", "1");

        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await client.WaitAsync(["here", "gone1", "gone2"], Short));
        Assert.True(watch.Elapsed >= Short - TimeSpan.FromMilliseconds(20), $"returned after {watch.Elapsed}");
        Assert.True(ex.MissingKeys.SequenceEqual(["gone1", "gone2"]), ex.ToString());
        Assert.Contains("gone1, gone2", ex.Message, StringComparison.Ordinal);

        // The cancelled wait leaves nothing behind: the next wait on the same (pooled) connection sees only its own reply.
        await client.WaitAsync(["here"], Short);
        await client.SetAsync("gone1", "x");
        Assert.Equal("x", await client.GetStringAsync("gone1"));

        // Timeout 0 on present keys succeeds (the server's STOP_WAITING crosses our CANCEL_WAIT), on a missing key times out.
        await client.WaitAsync(["here", "gone1"], TimeSpan.Zero);
        await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await client.WaitAsync(["gone2"], TimeSpan.Zero));
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Get_waits_for_a_key_another_client_sets_and_times_out_naming_it(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var waiter = await TcpStoreClient.ConnectAsync(server.ClientOptions(TimeSpan.FromSeconds(10)));
        await using var setter = await server.ConnectAsync();

        var pending = waiter.GetStringAsync("late").AsTask();
        await Task.Delay(200);
        Assert.False(pending.IsCompleted);
        await setter.SetAsync("late", "arrived");
        Assert.Equal("arrived", await pending.WaitAsync(TimeSpan.FromSeconds(10)));

        await using var impatient = await TcpStoreClient.ConnectAsync(server.ClientOptions(Short));
        var ex = await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await impatient.GetAsync("never"));
        Assert.True(ex.MissingKeys.SequenceEqual(["never"]), ex.ToString());
        var multi = await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await impatient.MultiGetAsync(["late", "never2"]));
        Assert.True(multi.MissingKeys.SequenceEqual(["never2"]), multi.ToString());
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Cancelling_a_wait_throws_promptly_and_the_client_goes_on(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.WaitAsync(["never"], TimeSpan.FromSeconds(30), cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        await client.SetAsync("after", "ok");
        Assert.Equal("ok", await client.GetStringAsync("after"));
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    public async Task Queue_calls_and_a_blocking_pop_released_by_another_client(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();
        await using var other = await server.ConnectAsync();

        await client.QueuePushAsync("q", "a1");
        await client.QueuePushAsync(B("q"), B("a2"));
        Assert.Equal(2, await client.QueueLengthAsync("q"));
        Assert.Equal("a1", S(await client.QueuePopAsync("q", block: false)));
        Assert.Equal("a2", S(client.QueuePop("q", block: true, Short)));
        Assert.Equal(0, client.QueueLength("q"));
        await Assert.ThrowsAsync<TcpStoreQueueEmptyException>(async () => await client.QueuePopAsync("q", block: false));
        Assert.Throws<TcpStoreQueueEmptyException>(() => client.QueuePop(B("q"), block: false));
        var timeout = await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await client.QueuePopAsync("q", block: true, Short));
        Assert.True(timeout.MissingKeys.SequenceEqual(["q"]), timeout.Message);

        var blocked = client.QueuePopAsync("bq", block: true, TimeSpan.FromSeconds(10)).AsTask();
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);
        await other.QueuePushAsync("bq", "item");
        Assert.Equal("item", S(await blocked.WaitAsync(TimeSpan.FromSeconds(10))));
        Assert.Equal(0, await other.QueueLengthAsync("bq"));
        Assert.Equal(0, await client.NumKeysAsync());
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Prefix_and_raw_views_match_pytorch_key_layout(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();
        var rawOptions = server.ClientOptions();
        rawOptions.KeyPrefix = string.Empty;
        await using var raw = await TcpStoreClient.ConnectAsync(rawOptions);
        await using var pg = new PrefixStore("default_pg", client);
        await using var nested = new PrefixStore("0", pg);

        await client.SetAsync("top", "t");
        await pg.SetAsync("rank", "r");
        await nested.SetAsync("dev", "d");
        Assert.Equal(2, await pg.AddAsync("n", 2));

        Assert.Equal(["/default_pg/0/dev", "/default_pg/n", "/default_pg/rank", "/top"], (await raw.ListKeyStringsAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(["0/dev", "n", "rank"], (await pg.ListKeyStringsAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(["dev"], await nested.ListKeyStringsAsync());
        Assert.Equal("d", await client.GetStringAsync("default_pg/0/dev"));
        Assert.Equal("r", await raw.GetStringAsync("/default_pg/rank"));
        Assert.Equal(4, await nested.NumKeysAsync());

        var ex = await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await nested.WaitAsync(["dev", "absent"], Short));
        Assert.True(ex.MissingKeys.SequenceEqual(["absent"]), ex.ToString());
        Assert.True(await pg.DeleteKeyAsync("rank"));
        Assert.False(await raw.CheckAsync(["/default_pg/rank"]));
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task World_size_joins_init_counter_and_wait_for_workers_blocks_until_all_joined(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        var first = server.ClientOptions();
        first.WorldSize = 2;
        first.WaitForWorkers = true;
        var joining = TcpStoreClient.ConnectAsync(first).AsTask();
        await Task.Delay(300);
        Assert.False(joining.IsCompleted);

        var second = server.ClientOptions();
        second.WorldSize = 2;
        await using var worker = await TcpStoreClient.ConnectAsync(second);
        await using var master = await joining.WaitAsync(TimeSpan.FromSeconds(10));

        var raw = server.ClientOptions();
        raw.KeyPrefix = string.Empty;
        await using var rawClient = await TcpStoreClient.ConnectAsync(raw);
        Assert.Equal("2", await rawClient.GetStringAsync("init/"));
        Assert.Empty(await worker.ListKeysAsync());
        Assert.Equal(1, await worker.NumKeysAsync());

        var alone = server.ClientOptions(TimeSpan.FromMilliseconds(500));
        alone.WorldSize = 5;
        alone.WaitForWorkers = true;
        var ex = await Assert.ThrowsAsync<TcpStoreTimeoutException>(async () => await TcpStoreClient.ConnectAsync(alone));
        Assert.Contains("3/5", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    public async Task Without_ping_and_over_ipv6_names(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        var options = server.ClientOptions();
        options.UsePing = false;
        options.Host = "localhost";
        await using var client = await TcpStoreClient.ConnectAsync(options);
        await client.SetAsync("k", "v");
        Assert.Equal("v", await client.GetStringAsync("k"));
    }

    [Fact]
    public async Task Ipv6_literal_reaches_a_dual_stack_server()
    {
        await using var server = await Support.TestServer.StartAsync(o => o.Host = System.Net.IPAddress.IPv6Any);
        await using var client = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions { Host = "::1", Port = server.Port, Timeout = TimeSpan.FromSeconds(10) });
        await client.SetAsync("six", "6");
        Assert.Equal("[::1]:" + server.Port, client.Endpoint);
        Assert.Equal("6", await client.GetStringAsync("six"));
    }
}
