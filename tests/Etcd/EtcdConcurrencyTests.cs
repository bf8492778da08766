using System.Text;
using TcpStore.Tests.Linearizability;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>Many clients over two front-ends of one etcd-backed store: linearizable, and exact under contention.</summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdConcurrencyTests(EtcdTestCluster cluster)
{
    private const int Clients = 6;
    private const int OpsPerClient = 300;
    private const int WaitKeys = 30;

    [Fact]
    public async Task A_concurrent_history_over_two_front_ends_is_linearizable()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        // etcd has no shards; the in-memory store's shard function only spreads each key group over distinct keys.
        var spread = new TcpStore.Core.KeyValueStore();
        var workload = new Workload(a.Port, seed: 7, Clients, OpsPerClient, WaitKeys, key => spread.ShardIndex(Encoding.UTF8.GetBytes(key))) { Ports = [a.Port, b.Port] };
        await workload.RunAsync().WaitAsync(TimeSpan.FromSeconds(90));

        var finalValues = new Dictionary<string, string>();
        using (var reader = await RawClient.ConnectAsync(a.Port))
        {
            foreach (var key in Workload.AllKeys(WaitKeys))
            {
                await reader.SendAsync(RawClient.Get(key));
                finalValues[key] = Encoding.UTF8.GetString(await reader.ReadBlobAsync());
            }
        }

        var history = workload.History;
        Assert.Equal(Clients * OpsPerClient, history.Count(o => o.Client < Clients));
        Assert.Equal(WaitKeys, history.Count(o => o.Client == Clients));
        Assert.True(history.Any(o => o.Kind == OpKind.CompareSet && o.Result != o.Desired), "no COMPARE_SET ever lost a race");
        var errors = HistoryChecker.Check(history, finalValues);
        Assert.True(errors.Count == 0, string.Join('\n', errors.Take(20)));
        Assert.Equal(0, a.Engine.AwaitedKeyCount);
        Assert.Equal(0, b.Engine.AwaitedKeyCount);
    }

    [Fact]
    public async Task An_add_counter_shared_by_1000_clients_over_two_front_ends_ends_exact()
    {
        const int ClientCount = 1000;
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        var clients = new List<RawClient>();
        try
        {
            for (var i = 0; i < ClientCount; i++)
            {
                clients.Add(await RawClient.ConnectAsync(i % 2 == 0 ? a.Port : b.Port));
            }

            // Every client's ADD is sent before any reply is read: they all contend at once.
            await Task.WhenAll(clients.Select(c => c.SendAsync(RawClient.Add("barrier", 1))));
            var results = await Task.WhenAll(clients.Select(c => c.ReadInt64Async()));
            Assert.Equal(Enumerable.Range(1, ClientCount).Select(i => (long)i), results.Order());

            await clients[0].SendAsync(RawClient.Get("barrier"));
            Assert.Equal(ClientCount.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(await clients[0].ReadBlobAsync()));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }
}
