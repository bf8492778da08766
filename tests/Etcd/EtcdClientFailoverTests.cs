using TcpStore.Client;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// Our client given two etcd-backed front-ends: when the one it uses dies it goes on through the other, repeating
/// what is safe to repeat and reporting what is not.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdClientFailoverTests(EtcdTestCluster cluster)
{
    [Fact]
    public async Task When_its_front_end_dies_the_client_goes_on_through_the_other_and_re_issues_a_pending_wait()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        try
        {
            await using var client = await TcpStoreClient.ConnectAsync(Options(a, b));
            Assert.Equal($"127.0.0.1:{a.Port}", client.Endpoint);
            for (var i = 0; i < 10; i++)
            {
                await client.SetAsync($"key{i}", $"value{i}");
            }

            Assert.Equal(5, await client.AddAsync("ctr", 5));
            var waiting = client.WaitAsync(["late"], TimeSpan.FromSeconds(60)).AsTask();
            await Task.Delay(300);
            Assert.False(waiting.IsCompleted);
            await client.SetAsync("sent-last", "yes"); // no reply: still unconfirmed when the front-end dies

            await a.DisposeAsync();

            Assert.Equal("value3", await client.GetStringAsync("key3"));
            Assert.Equal($"127.0.0.1:{b.Port}", client.Endpoint);
            Assert.Equal("yes", await client.GetStringAsync("sent-last"));
            var values = await client.MultiGetAsync([.. Enumerable.Range(0, 10).Select(i => $"key{i}")]);
            Assert.Equal([.. Enumerable.Range(0, 10).Select(i => $"value{i}")], values.Select(v => System.Text.Encoding.UTF8.GetString(v)));
            Assert.Equal(12, await client.NumKeysAsync());

            // The WAIT moved to B: still pending until a SET through B (another client) releases it.
            await Task.Delay(300);
            Assert.False(waiting.IsCompleted, waiting.Exception?.ToString());
            using (var setter = await RawClient.ConnectAsync(b.Port))
            {
                await setter.SendAsync(RawClient.Set("/late", "now"));
                await waiting.WaitAsync(TimeSpan.FromSeconds(15));
            }

            Assert.Equal(6, await client.AddAsync("ctr", 1));
        }
        finally
        {
            await a.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_add_in_flight_when_its_front_end_dies_fails_with_an_unknown_outcome_and_the_client_goes_on()
    {
        var prefix = EtcdFrontEnd.NewPrefix();
        var a = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        await using var b = await EtcdFrontEnd.StartAsync(cluster.Endpoints, prefix);
        try
        {
            await using var client = await TcpStoreClient.ConnectAsync(Options(a, b));
            Assert.Equal(1, await client.AddAsync("ctr", 1));

            // Frozen members keep the ADD in flight inside front-end A, which then dies.
            cluster.PauseAll();
            try
            {
                var add = client.AddAsync("ctr", 10).AsTask();
                await Task.Delay(500);
                Assert.False(add.IsCompleted);
                await a.Server.DisposeAsync();
                var ex = await Assert.ThrowsAsync<TcpStoreOutcomeUnknownException>(() => add.WaitAsync(TimeSpan.FromSeconds(15)));
                Assert.Equal("ADD", ex.Request);
                Assert.Contains("outcome is unknown", ex.Message, StringComparison.Ordinal);
                Assert.Equal($"127.0.0.1:{a.Port}", ex.Endpoint);
            }
            finally
            {
                cluster.ResumeAll();
            }

            // Whether the ADD reached etcd before A died is unknown; the counter holds one outcome or the other.
            Assert.Contains(await client.AddAsync("ctr", 100), new long[] { 101, 111 });
            Assert.Equal($"127.0.0.1:{b.Port}", client.Endpoint);
        }
        finally
        {
            await a.DisposeAsync();
        }
    }

    private static TcpStoreClientOptions Options(EtcdFrontEnd a, EtcdFrontEnd b) => new()
    {
        Endpoints = [$"127.0.0.1:{a.Port}", $"127.0.0.1:{b.Port}"],
        Timeout = TimeSpan.FromSeconds(30),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        InitialBackoff = TimeSpan.FromMilliseconds(50),
    };
}
