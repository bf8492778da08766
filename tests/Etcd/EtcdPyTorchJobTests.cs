using System.Text;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// Eight real PyTorch 2.10 store clients (the shim), four on each of two front-ends over one etcd
/// cluster, doing what a job's rendezvous does with its store: the client's own world-size handshake,
/// an ADD barrier released by a WAIT, and an all-gather of per-rank keys. Hostile input on the same
/// front-end closes only its own connection.
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
