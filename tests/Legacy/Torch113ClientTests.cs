using TcpStore.Codec;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Legacy;

/// <summary>
/// The real PyTorch 1.13 client (Debian's python3-torch) against our server with its default
/// legacy table: the TCPStore Python API, a 4-process gloo job, and a 1.13 and a 2.10 client
/// sharing one key space.
/// </summary>
public sealed class Torch113ClientTests
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task The_1_13_TCPStore_API_works_against_our_server()
    {
        await using var server = await TestServer.StartAsync();
        var (exit, output, error) = await TorchPython.RunAsync([TorchPython.Script("api113.py"), TorchPython.Arg(server.Port)], ScriptTimeout);

        var describe = TorchPython.Describe(exit, output, error);
        Assert.True(exit == 0, describe);
        foreach (var check in new[] { "set_get", "get_blocks_until_set", "add", "compare_set", "wait", "wait_timeout_then_more_requests", "num_keys", "delete_key" })
        {
            Assert.Contains("ok " + check + "\n", output, StringComparison.Ordinal);
        }

        // Two store objects, each with its command and its (idle) callback connection, and nothing left waiting.
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
    }

    [Fact]
    public async Task A_4_process_1_13_gloo_job_runs_all_reduce_and_barrier_through_our_server()
    {
        const int world = 4;
        await using var server = await TestServer.StartAsync();
        var ranks = Enumerable.Range(0, world)
            .Select(rank => TorchPython.RunAsync([TorchPython.Script("gloo_rank.py"), TorchPython.Arg(server.Port), TorchPython.Arg(rank), TorchPython.Arg(world)], ScriptTimeout))
            .ToList();
        var results = await Task.WhenAll(ranks);

        for (var rank = 0; rank < world; rank++)
        {
            var (exit, output, error) = results[rank];
            Assert.True(exit == 0, $"rank {rank}: " + TorchPython.Describe(exit, output, error));
            Assert.Contains($"ok rank {rank} sum 10", output, StringComparison.Ordinal);
        }

        // The job's keys (init/ and gloo's rendezvous under default_pg) went through our store.
        Assert.Equal(world.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Text.Encoding.ASCII.GetString(server.Server.Store.Get("init/"u8)!));
    }

    [Fact]
    public async Task A_1_13_client_and_a_2_10_client_read_each_others_keys_on_one_server()
    {
        await using var server = await TestServer.StartAsync();
        await using var modern = await RealPyTorchClient.ConnectAsync("127.0.0.1", server.Port, TimeSpan.FromSeconds(20));
        await modern.SetAsync(RealPyTorchClient.Utf8("from-2.10"), RealPyTorchClient.Utf8("hello from 2.10"));
        Assert.Equal(1, await modern.AddAsync(RealPyTorchClient.Utf8("shared-counter"), 1));

        var run = TorchPython.RunAsync([TorchPython.Script("mixed113.py"), TorchPython.Arg(server.Port)], ScriptTimeout);
        // The 2.10 client blocks in get until the 1.13 client has written its key.
        var fromLegacy = await modern.GetAsync(RealPyTorchClient.Utf8("from-1.13"));
        var (exit, output, error) = await run;

        Assert.True(exit == 0, TorchPython.Describe(exit, output, error));
        Assert.Contains("ok read hello from 2.10\n", output, StringComparison.Ordinal);
        Assert.Equal("hello from 1.13", System.Text.Encoding.UTF8.GetString(fromLegacy));
        Assert.Equal(11, await modern.AddAsync(RealPyTorchClient.Utf8("shared-counter"), 0));
    }

    [Fact]
    public async Task With_legacy_off_a_1_13_client_is_refused()
    {
        await using var server = await TestServer.StartAsync(o => o.LegacyProtocol = LegacyProtocol.Off);
        var (exit, output, error) = await TorchPython.RunAsync(
            ["-c", "import datetime, sys, torch.distributed as d; s = d.TCPStore('127.0.0.1', int(sys.argv[1]), None, False, timeout=datetime.timedelta(seconds=5)); s.set('k', 'v'); print(s.get('k'))", TorchPython.Arg(server.Port)],
            ScriptTimeout);

        Assert.True(exit != 0, TorchPython.Describe(exit, output, error));
        Assert.DoesNotContain("b'v'", output, StringComparison.Ordinal);
    }
}
