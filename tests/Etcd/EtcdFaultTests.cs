using System.Diagnostics;
using System.Text;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>Failures of etcd members and of front-ends, on a cluster of this class's own (members get killed).</summary>
public sealed class EtcdFaultTests(EtcdTestCluster cluster) : IClassFixture<EtcdTestCluster>
{
    [Fact]
    public async Task Requests_keep_succeeding_while_an_etcd_member_is_killed()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 8).Select(i => Task.Run(() => WorkAsync(i % 2 == 0 ? a.Port : b.Port, i, stop.Token))).ToList();

        await Task.Delay(800);
        cluster.Kill(0);
        await Task.Delay(2500);
        await stop.CancelAsync();
        var adds = await Task.WhenAll(workers);
        try
        {
            using var reader = await RawClient.ConnectAsync(b.Port);
            await reader.SendAsync(RawClient.Get("counter"));
            Assert.Equal(adds.Sum().ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(await reader.ReadBlobAsync()));
            Assert.True(adds.All(n => n > 0), "a worker made no progress: " + string.Join(",", adds));
        }
        finally
        {
            await cluster.RestartAllAsync();
        }
    }

    [Fact]
    public async Task A_fresh_front_end_on_a_dead_ones_port_sees_every_key_and_serves_waits()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        var first = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        var port = first.Port;
        using (var client = await RawClient.ConnectAsync(port))
        {
            for (var i = 0; i < 20; i++)
            {
                await client.SendAsync(RawClient.Set($"key{i}", $"value{i}"));
            }

            await client.SendAsync(RawClient.Add("ctr", 3));
            Assert.Equal(3, await client.ReadInt64Async());
        }

        await first.DisposeAsync();
        await using var second = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix, port);
        await using var other = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        using var reconnected = await RawClient.ConnectAsync(port);
        await reconnected.SendAsync(RawClient.Multi(QueryType.MultiGet, [.. Enumerable.Range(0, 20).Select(i => $"key{i}")]));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal($"value{i}", Encoding.UTF8.GetString(await reconnected.ReadBlobAsync()));
        }

        await reconnected.SendAsync(RawClient.Add("ctr", 1));
        Assert.Equal(4, await reconnected.ReadInt64Async());

        await reconnected.SendAsync(RawClient.Multi(QueryType.Wait, "late"));
        Assert.True(await reconnected.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(300)));
        using var setter = await RawClient.ConnectAsync(other.Port);
        await setter.SendAsync(RawClient.Set("late", "now"));
        Assert.Equal(Protocol.StopWaiting, await reconnected.ReadByteAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task With_the_whole_cluster_down_connections_are_closed_not_answered_and_service_returns_with_it()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        await using var frontEnd = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix, requestTimeout: TimeSpan.FromSeconds(2));
        using (var client = await RawClient.ConnectAsync(frontEnd.Port))
        {
            await client.SendAsync(RawClient.Set("kept", "yes"));
            await client.SendAsync(RawClient.Get("kept"));
            Assert.Equal("yes", Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        }

        for (var i = 0; i < 3; i++)
        {
            cluster.Kill(i);
        }

        try
        {
            using var client = await RawClient.ConnectAsync(frontEnd.Port);
            var watch = Stopwatch.StartNew();
            await client.SendAsync(RawClient.Get("kept"));
            Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(15)));
            Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(1), "closed before the request timeout: it did not retry");
        }
        finally
        {
            await cluster.RestartAllAsync();
        }

        using var again = await RawClient.ConnectAsync(frontEnd.Port);
        await again.SendAsync(RawClient.Get("kept"));
        Assert.Equal("yes", Encoding.UTF8.GetString(await again.ReadBlobAsync()));
    }

    // ADDs a shared counter and writes/reads its own key until stopped; any failure fails the test.
    private static async Task<int> WorkAsync(int port, int id, CancellationToken stop)
    {
        using var client = await RawClient.ConnectAsync(port);
        var adds = 0;
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            await client.SendAsync([.. RawClient.Add("counter", 1), .. RawClient.Set($"own{id}", $"{n}"), .. RawClient.Get($"own{id}")]);
            await client.ReadInt64Async();
            adds++;
            Assert.Equal($"{n}", Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        }

        return adds;
    }
}
