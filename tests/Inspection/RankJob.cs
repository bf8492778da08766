using System.Text;
using TcpStore.Tests.Interop;

namespace TcpStore.Tests.Inspection;

/// <summary>
/// Ranks of a PyTorch job, each a real PyTorch 2.10 TCPStore client (native/shim), sending the key
/// traffic of gloo's rendezvous and of PyTorch's barriers exactly as the library code does
/// (docs/inspect.md): the shim reaches the real client, not ProcessGroupGloo itself.
/// </summary>
internal sealed class RankJob : IAsyncDisposable
{
    private readonly List<Task> _blocked = [];

    private RankJob(RealPyTorchClient[] clients) => Clients = clients;

    public RealPyTorchClient[] Clients { get; }

    /// <summary>Connects one real client per rank in <paramref name="ranks"/> (each declares <paramref name="world"/>, so each sends <c>ADD init/ 1</c>).</summary>
    public static async Task<RankJob> ConnectAsync(int port, int world, int ranks)
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, ranks).Select(_ =>
            RealPyTorchClient.ConnectAsync("127.0.0.1", port, TimeSpan.FromSeconds(120), worldSize: world)));
        return new RankJob(clients);
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>
    /// gloo's connectFullMesh through c10d's stores: each rank SETs <c>&lt;prefix&gt;&lt;rank&gt;</c> to its
    /// rank record, then WAITs for (and GETs) every other rank's key in rank order. Ranks whose peers
    /// never come stay blocked in that wait, as gloo does.
    /// </summary>
    public async Task GlooRendezvousAsync(string prefix, int world, IEnumerable<int> ranks)
    {
        foreach (var rank in ranks)
        {
            await Clients[rank].SetAsync(Utf8(prefix + rank), RendezvousDecoderTests.GlooValue(rank, world));
        }

        foreach (var rank in ranks)
        {
            var client = Clients[rank];
            _blocked.Add(Task.Run(async () =>
            {
                for (var peer = 0; peer < world; peer++)
                {
                    if (peer != rank)
                    {
                        await client.GetAsync(Utf8(prefix + peer));
                    }
                }
            }));
        }
    }

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
        await Task.WhenAll(Clients.Select(c => c.DisposeAsync().AsTask()));
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
