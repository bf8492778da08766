using System.Text;
using TcpStore.Client;
using TcpStore.Tests.Interop;

namespace TcpStore.Tests.Client;

/// <summary>Real PyTorch clients and our client in one job, on one server: same keys, same counters, waits across both.</summary>
public sealed class MixedJobTests
{
    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static string S(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task PyTorch_and_dotnet_clients_share_keys_counters_and_waits(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        var ours = server.ClientOptions();
        ours.WorldSize = 4;
        await using var torch = await RealPyTorchClient.ConnectAsync("127.0.0.1", server.Port, TimeSpan.FromSeconds(15), worldSize: 4);
        await using var dotnet = await TcpStoreClient.ConnectAsync(ours);

        // A second real worker joins last; our client configured as the waiting master waits for it.
        var masterOptions = server.ClientOptions();
        masterOptions.WorldSize = 4;
        masterOptions.WaitForWorkers = true;
        var master = TcpStoreClient.ConnectAsync(masterOptions).AsTask();
        await Task.Delay(300);
        Assert.False(master.IsCompleted);
        await using (var lateTorch = await RealPyTorchClient.ConnectAsync("127.0.0.1", server.Port, TimeSpan.FromSeconds(15), worldSize: 4))
        {
            await using var joined = await master.WaitAsync(TimeSpan.FromSeconds(15));
        }

        // init/ = 4 now; it is counted by num_keys and hidden by list_keys on both sides.
        await dotnet.SetAsync("from-dotnet", "d");
        await torch.SetAsync(B("from-torch"), B("t"));
        Assert.Equal("t", await dotnet.GetStringAsync("from-torch"));
        Assert.Equal("d", S(await torch.GetAsync(B("from-dotnet"))));
        Assert.Equal(3, await dotnet.NumKeysAsync());
        Assert.Equal(3, await torch.GetNumKeysAsync());
        Assert.Equal(["from-dotnet", "from-torch"], (await dotnet.ListKeyStringsAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(["from-dotnet", "from-torch"], (await torch.ListKeysAsync()).Select(S).Order(StringComparer.Ordinal));

        // Counters interleave.
        Assert.Equal(1, await torch.AddAsync(B("ctr"), 1));
        Assert.Equal(11, await dotnet.AddAsync("ctr", 10));
        Assert.Equal(111, await torch.AddAsync(B("ctr"), 100));
        Assert.Equal("111", await dotnet.GetStringAsync("ctr"));

        // Prefix stores line up with PyTorch's PrefixStore layout.
        await using var pg = new PrefixStore("default_pg", dotnet);
        await pg.SetAsync("rank0", "addr");
        Assert.Equal("addr", S(await torch.GetAsync(B("default_pg/rank0"))));

        // Each side's wait is released by the other's write.
        var dotnetWaits = dotnet.GetStringAsync("torch-later").AsTask();
        var torchWaits = torch.GetAsync(B("dotnet-later"));
        await Task.Delay(200);
        Assert.False(dotnetWaits.IsCompleted);
        await using (var torch2 = await RealPyTorchClient.ConnectAsync("127.0.0.1", server.Port, TimeSpan.FromSeconds(15)))
        {
            await torch2.SetAsync(B("torch-later"), B("1"));
        }

        await dotnet.SetAsync("dotnet-later", "2");
        Assert.Equal("1", await dotnetWaits.WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal("2", S(await torchWaits.WaitAsync(TimeSpan.FromSeconds(15))));

        // Multi-key calls and compare_set agree.
        await torch.MultiSetAsync([B("m1"), B("m2")], [B("x"), B("y")]);
        Assert.Equal(["x", "y"], (await dotnet.MultiGetAsync(["m1", "m2"])).Select(S));
        Assert.Equal("y2", await dotnet.CompareSetAsync("m2", "y", "y2"));
        Assert.Equal("y2", S((await torch.MultiGetAsync(B("m2")))[0]));
        Assert.True(await torch.DeleteKeyAsync(B("m1")));
        Assert.False(await dotnet.CheckAsync(["m1"]));

        if (server.HasQueues)
        {
            await torch.QueuePushAsync(B("jobs"), B("j1"));
            await dotnet.QueuePushAsync("jobs", "j2");
            Assert.Equal(2, await dotnet.QueueLengthAsync("jobs"));
            Assert.Equal("j1", S(await dotnet.QueuePopAsync("jobs", block: false)));
            Assert.Equal("j2", S(await torch.QueuePopAsync(B("jobs"), block: false)));
        }

        var rawOptions = server.ClientOptions();
        rawOptions.KeyPrefix = string.Empty;
        await using var raw = await TcpStoreClient.ConnectAsync(rawOptions);
        Assert.Equal("4", await raw.GetStringAsync("init/"));
    }
}
