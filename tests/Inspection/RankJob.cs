using System.Globalization;
using System.Text;
using TcpStore.Tests.Interop;

namespace TcpStore.Tests.Inspection;

/// <summary>
/// Ranks of a PyTorch job, each a real PyTorch 2.10 TCPStore client (native/shim). Gloo rendezvous
/// is the real c10d::ProcessGroupGloo (the shim's <c>--gloo-rank</c>); the barriers are sent as
/// PyTorch's Python code sends them (docs/inspect.md), through the real client.
/// </summary>
internal sealed class RankJob : IAsyncDisposable
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(120);
    private readonly List<Task> _blocked = [];
    private readonly List<ShimChild> _stalled = [];

    private RankJob(RealPyTorchClient[] clients) => Clients = clients;

    public RealPyTorchClient[] Clients { get; }

    /// <summary>Connects one real client per rank in <paramref name="ranks"/> (each declares <paramref name="world"/>, so each sends <c>ADD init/ 1</c>).</summary>
    public static async Task<RankJob> ConnectAsync(int port, int world, int ranks)
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, ranks).Select(_ =>
            RealPyTorchClient.ConnectAsync("127.0.0.1", port, StoreTimeout, worldSize: world)));
        return new RankJob(clients);
    }

    /// <summary>
    /// Every rank of a <paramref name="world"/>-rank job joins a real gloo process group (default
    /// group, CPU); returns once gloo's mesh is connected, with each rank's client ready for commands.
    /// </summary>
    public static async Task<RankJob> ConnectGlooAsync(int port, int world)
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, world).Select(rank =>
            RealPyTorchClient.ConnectAsync("127.0.0.1", port, StoreTimeout, worldSize: world, glooRank: rank)));
        return new RankJob(clients);
    }

    /// <summary>
    /// Starts real gloo ranks <paramref name="ranks"/> of a <paramref name="world"/>-rank job; with
    /// ranks missing they block inside ProcessGroupGloo's constructor, as a real job stalls.
    /// </summary>
    public static RankJob StartStalledGloo(int port, int world, IEnumerable<int> ranks)
    {
        var job = new RankJob([]);
        foreach (var rank in ranks)
        {
            job._stalled.Add(ShimChild.Start(
            [
                "client", "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
                "--timeout-ms", ((long)StoreTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                "--world-size", world.ToString(CultureInfo.InvariantCulture), "--gloo-rank", rank.ToString(CultureInfo.InvariantCulture),
            ]));
        }

        return job;
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>distributed_c10d._store_based_barrier for <paramref name="group"/>: ADD the counter, then WAIT for the last worker's key.</summary>
    public async Task StoreBasedBarrierAsync(string group, int world, IEnumerable<int> ranks)
    {
        var key = "store_based_barrier_key:" + group;
        foreach (var rank in ranks)
        {
            var count = await Clients[rank].AddAsync(Utf8(key), 1);
            if (count == world)
            {
                await Clients[rank].SetAsync(Utf8(key + ":last_worker"), Utf8("1"));
            }

            var client = Clients[rank];
            _blocked.Add(client.WaitAsync(TimeSpan.FromSeconds(120), Utf8(key + ":last_worker")));
        }
    }

    /// <summary>
    /// torch.distributed.elastic.utils.store.barrier with rank tracing, after the barrier timed out:
    /// ADD num_members; each rank SETs &lt;prefix&gt;&lt;rank&gt;/TRACE; rank 0 WAITs for rank 1's, 2's, ...
    /// trace keys in order, the others WAIT for the tracing gate.
    /// </summary>
    public async Task ElasticBarrierTimedOutAsync(string prefix, int world, IReadOnlyList<int> ranks)
    {
        foreach (var rank in ranks)
        {
            var count = await Clients[rank].AddAsync(Utf8(prefix + "/num_members"), 1);
            Assert.NotEqual(world, count); // ranks are withheld: nobody is last
        }

        foreach (var rank in ranks)
        {
            await Clients[rank].SetAsync(Utf8($"{prefix}{rank}/TRACE"), Utf8("<val_ignored>"));
        }

        foreach (var rank in ranks)
        {
            var client = Clients[rank];
            _blocked.Add(rank == 0
                ? Task.Run(async () =>
                {
                    for (var peer = 1; peer < world; peer++)
                    {
                        await client.WaitAsync(TimeSpan.FromSeconds(120), Utf8($"{prefix}{peer}/TRACE"));
                    }
                })
                : client.WaitAsync(TimeSpan.FromSeconds(120), Utf8(prefix + "/TRACING_GATE")));
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Blocked clients are killed by their disposal (after the shim's grace period), in parallel.
        await Task.WhenAll(Clients.Select(c => c.DisposeAsync().AsTask()).Concat(_stalled.Select(c => c.DisposeAsync().AsTask())));
        foreach (var task in _blocked)
        {
            try
            {
                await task;
            }
            catch (Exception ex) when (ex is RealClientException or InvalidOperationException or IOException or TimeoutException or ObjectDisposedException)
            {
                // The rank was stalled on purpose; its wait ends with the process.
            }
        }
    }
}
