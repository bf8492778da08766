using System.Text;
using TcpStore.Client;
using TcpStore.Core.Inspection;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// Eight real PyTorch 2.10 store clients (the shim), four on each of two front-ends over one etcd
/// cluster: doing what a job's rendezvous does with its store (the client's own world-size handshake,
/// an ADD barrier released by a WAIT, and an all-gather of per-rank keys), and as a real gloo job
/// (ProcessGroupGloo's rendezvous and mesh, the store-based barrier, then gloo barriers over gloo's own
/// transport). Hostile input on the same front-end closes only its own connection.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdPyTorchJobTests(EtcdTestCluster cluster)
{
    private const int Ranks = 8;
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Eight_real_pytorch_clients_over_two_front_ends_rendezvous_and_all_gather()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        var clients = await Task.WhenAll(Enumerable.Range(0, Ranks).Select(rank =>
            RealPyTorchClient.ConnectAsync("127.0.0.1", rank % 2 == 0 ? a.Port : b.Port, StoreTimeout, worldSize: Ranks)));
        try
        {
            var gathered = await Task.WhenAll(clients.Select((client, rank) => RankAsync(client, rank)));
            var expected = string.Join(",", Enumerable.Range(0, Ranks).Select(r => $"addr-of-{r}"));
            Assert.All(gathered, g => Assert.Equal(expected, g));

            // Hostile bytes on front-end A close only that connection; the job's clients carry on.
            using (var hostile = await RawClient.ConnectAsync(a.Port))
            {
                await hostile.SendAsync([0xEE, 1, 2, 3]);
                Assert.True(await hostile.IsClosedByServerAsync());
            }

            Assert.Equal(Ranks + 1, await clients[0].AddAsync(RealPyTorchClient.Utf8("arrived"), 1));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_real_eight_rank_gloo_job_four_ranks_per_front_end_connects_and_passes_store_and_gloo_barriers()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        // Each rank builds a real c10d::ProcessGroupGloo over its store, as init_process_group("gloo") does: it
        // publishes its address and reads every other rank's, so ranks 0-3 (front-end A) and 4-7 (B) only connect
        // their full mesh if each front-end sees the other's writes and releases waits on them.
        var ranks = await Task.WhenAll(Enumerable.Range(0, Ranks).Select(rank =>
            RealPyTorchClient.ConnectAsync("127.0.0.1", rank < Ranks / 2 ? a.Port : b.Port, StoreTimeout, worldSize: Ranks, glooRank: rank)));
        try
        {
            // Then the store-based barrier that init_process_group runs (distributed_c10d._store_based_barrier): ADD the
            // counter; the rank that completes it SETs the last-worker key; every rank WAITs for that key.
            const string Barrier = "store_based_barrier_key:1";
            var arrivals = await Task.WhenAll(ranks.Select(async client =>
            {
                var count = await client.AddAsync(RealPyTorchClient.Utf8(Barrier), 1);
                if (count == Ranks)
                {
                    await client.SetAsync(RealPyTorchClient.Utf8(Barrier + ":last_worker"), RealPyTorchClient.Utf8("1"));
                }

                await client.WaitAsync(StoreTimeout, RealPyTorchClient.Utf8(Barrier + ":last_worker"));
                return count;
            }));
            Assert.Equal(Enumerable.Range(1, Ranks).Select(n => (long)n), arrivals.Order());

            // The keys the job wrote, read through both front-ends with our client: gloo's rank values each carry the
            // world size, and the worker counter counts every rank.
            await using var store = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions
            {
                Endpoints = [$"127.0.0.1:{b.Port}", $"127.0.0.1:{a.Port}"],
                KeyPrefix = string.Empty,
                Timeout = StoreTimeout,
            });
            var values = await store.MultiGetAsync([.. Enumerable.Range(0, Ranks).Select(r => $"/0//cpu//0/{r}")]);
            Assert.All(values, v => Assert.Equal(Ranks, GlooRankValue.WorldSize(v)));
            Assert.Equal($"{Ranks}", await store.GetStringAsync("init/"));

            // The job's first collective, over gloo's own TCP pairs between the ranks the two front-ends introduced:
            // all eight pass a gloo barrier. In the next one rank 7 is withheld, and the other seven must stay
            // blocked until it enters.
            await Task.WhenAll(ranks.Select(client => client.GlooBarrierAsync(StoreTimeout)));
            var entered = ranks[..^1].Select(client => client.GlooBarrierAsync(StoreTimeout)).ToArray();
            await Task.WhenAny(Task.WhenAll(entered), Task.Delay(TimeSpan.FromSeconds(2)));
            Assert.All(entered, t => Assert.False(t.IsCompleted, "a gloo barrier passed with rank 7 withheld"));
            await ranks[^1].GlooBarrierAsync(StoreTimeout);
            await Task.WhenAll(entered);
        }
        finally
        {
            foreach (var client in ranks)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task<string> RankAsync(RealPyTorchClient client, int rank)
    {
        await client.SetAsync(RealPyTorchClient.Utf8($"addr/{rank}"), RealPyTorchClient.Utf8($"addr-of-{rank}"));
        var arrived = await client.AddAsync(RealPyTorchClient.Utf8("arrived"), 1);
        if (arrived == Ranks)
        {
            await client.SetAsync(RealPyTorchClient.Utf8("go"), RealPyTorchClient.Utf8("1"));
        }

        await client.WaitAsync(StoreTimeout, RealPyTorchClient.Utf8("go"));
        var all = await client.MultiGetAsync([.. Enumerable.Range(0, Ranks).Select(r => RealPyTorchClient.Utf8($"addr/{r}"))]);
        return string.Join(",", all.Select(Encoding.UTF8.GetString));
    }
}
