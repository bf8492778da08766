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
        await using var server = await TestServer.StartAsync();
        var workload = new Workload(server.Port, seed, Clients, OpsPerClient, WaitKeys);
        await workload.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));

        var finalValues = Workload.AllKeys(WaitKeys).ToDictionary(
            key => key,
            key => server.Server.Store.Get(Encoding.UTF8.GetBytes(key)) is { } value ? Encoding.UTF8.GetString(value) : string.Empty);
        var history = workload.History;
        Assert.Equal(Clients * OpsPerClient + WaitKeys, history.Count);
        // The workload must really exercise every operation and some contention, or the check proves little.
        foreach (var kind in Enum.GetValues<OpKind>())
        {
            Assert.True(history.Count(o => o.Kind == kind) >= 50, $"only {history.Count(o => o.Kind == kind)} {kind} operations");
        }

        Assert.True(history.Any(o => o.Kind == OpKind.CompareSet && o.Result != o.Desired), "no COMPARE_SET ever lost a race");
        var errors = HistoryChecker.Check(history, finalValues);
        Assert.True(errors.Count == 0, string.Join('\n', errors.Take(20)));
        Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
    }
}
