using TcpStore.Client;

namespace TcpStore.Tests.Client;

/// <summary>One client shared by many callers: waits on their own connections, everything else serialised correctly.</summary>
public sealed class ClientConcurrencyTests
{
    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    public async Task Long_waits_do_not_block_other_callers(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();

        var waits = Enumerable.Range(0, 3).Select(i => client.WaitAsync([$"gate{i}"], TimeSpan.FromSeconds(20)).AsTask()).ToArray();
        var blockingGet = Task.Run(() => client.GetString("gate-get"));
        await Task.Delay(200);

        // While four callers are parked on the server, other calls on the same client complete quickly.
        using (var quick = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(1, await client.AddAsync("busy", 1, quick.Token));
            await client.SetAsync("gate-get", "opened", quick.Token);
            Assert.Equal("opened", await client.GetStringAsync("gate-get", quick.Token));
        }

        Assert.Equal("opened", await blockingGet.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.All(waits, w => Assert.False(w.IsCompleted));
        for (var i = 0; i < waits.Length; i++)
        {
            await client.SetAsync($"gate{i}", "x");
        }

        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Parallel_callers_on_one_client_get_their_own_replies()
    {
        await using var server = await AnyServer.StartAsync(Backend.Ours);
        await using var client = await server.ConnectAsync();
        const int Callers = 8;
        const int Rounds = 100;

        var tasks = Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            for (var round = 0; round < Rounds; round++)
            {
                var key = $"c{caller}";
                if (round % 2 == 0)
                {
                    await client.AddAsync("total", 1);
                    await client.SetAsync(key, round.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    Assert.Equal(round.ToString(System.Globalization.CultureInfo.InvariantCulture), await client.GetStringAsync(key));
                }
                else
                {
                    client.Add("total", 1);
                    client.Set(key, $"s{round}");
                    Assert.Equal($"s{round}", client.GetString(key));
                }
            }
        })).ToArray();

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Callers * Rounds, await client.AddAsync("total", 0));

        Assert.Equal(Callers + 1, server.Ours!.Server.Store.KeyCount);

        // Short requests share the primary connection; Gets wait on pooled ones, at most one per concurrent caller,
        // and at most the idle cap of those stays open afterwards.
        var metrics = server.Ours.Server.Metrics;
        Assert.InRange(metrics.Accepted, 2, 1 + Callers);
        var settle = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (metrics.Active > 1 + server.ClientOptions().MaxIdleWaitConnections && DateTime.UtcNow < settle)
        {
            await Task.Delay(20);
        }

        Assert.InRange(metrics.Active, 2, 1 + server.ClientOptions().MaxIdleWaitConnections);
    }
}
