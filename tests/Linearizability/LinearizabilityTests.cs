using System.Text;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Linearizability;

/// <summary>Concurrent random histories against the real server, checked by <see cref="HistoryChecker"/>.</summary>
public sealed class LinearizabilityTests
{
    private const int Clients = 6;
    private const int OpsPerClient = 400;
    private const int WaitKeys = 30;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Concurrent_history_is_consistent(int seed)
    {
        // Two event loops, so requests on different connections really run on two threads at once
        // against the sharded store (the default is one loop per two cores, one on a 2-core machine).
        await using var server = await TestServer.StartAsync(o => o.EventLoops = 2);
        var store = server.Server.Store;
        var workload = new Workload(server.Port, seed, Clients, OpsPerClient, WaitKeys, key => store.ShardIndex(Encoding.UTF8.GetBytes(key)));
        await workload.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));

        var finalValues = Workload.AllKeys(WaitKeys).ToDictionary(
            key => key,
            key => store.Get(Encoding.UTF8.GetBytes(key)) is { } value ? Encoding.UTF8.GetString(value) : string.Empty);
        var history = workload.History;
        Assert.Equal(Clients * OpsPerClient, history.Count(o => o.Client < Clients));
        Assert.Equal(WaitKeys, history.Count(o => o.Client == Clients));
        // The workload must really exercise every operation and some contention, or the check proves little.
        foreach (var kind in Enum.GetValues<OpKind>())
        {
            Assert.True(history.Count(o => o.Kind == kind) >= 50, $"only {history.Count(o => o.Kind == kind)} {kind} operations");
        }

        Assert.True(history.Any(o => o.Kind == OpKind.CompareSet && o.Result != o.Desired), "no COMPARE_SET ever lost a race");
        var groupOps = history.Where(o => o.Key.Contains("/grp/", StringComparison.Ordinal)).ToList();
        Assert.True(groupOps.Count(o => o.Kind is OpKind.MultiSet or OpKind.MultiGet && o.Keys.Count >= 2) >= 50, "too few multi-key operations across shards");
        Assert.True(groupOps.Count(o => o.Kind == OpKind.Delete && o.Result == "1") >= 10, "too few DELETEs of present group keys");
        Assert.True(groupOps.Count(o => o.Kind == OpKind.Delete && o.Result == "0") >= 10, "too few DELETEs of missing group keys");
        Assert.True(groupOps.Count(o => o.Kind == OpKind.Check && o.Result == "0") >= 10, "too few CHECKs that found a group key missing");
        Assert.True(history.Count(o => o.Kind == OpKind.Wait && o.Keys.Count >= 2) >= 20, "too few WAITs on several keys");
        var errors = HistoryChecker.Check(history, finalValues);
        Assert.True(errors.Count == 0, string.Join('\n', errors.Take(20)));
        Assert.Equal(0, store.AwaitedKeyCount);
    }
}
