using FsCheck;
using FsCheck.Fluent;
using TcpStore.Tests.Differential;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>The real libuv PyTorch server vs ours over the etcd engine, both driven by the real PyTorch 2.10 client.</summary>
public sealed class EtcdLibUvPair(EtcdTestCluster cluster) : DifferentialPair(useLibUv: true)
{
    private TcpStore.Etcd.EtcdEngine? _engine;

    protected override async Task<TestServer> StartOursAsync()
    {
        var engineOptions = new TcpStore.Etcd.EtcdEngineOptions { Prefix = EtcdFrontEnd.NewPrefix() };
        foreach (var endpoint in cluster.Endpoints)
        {
            engineOptions.Endpoints.Add(endpoint);
        }

        _engine = await TcpStore.Etcd.EtcdEngine.ConnectAsync(engineOptions);
        return await TestServer.StartAsync(o => o.Engine = _engine);
    }

    protected override async ValueTask OnStoppedAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }
    }
}

/// <summary>
/// The differential suite's sequences, scenarios and raw pipelined streams against the etcd engine:
/// every answer must be the libuv server's (which the in-memory engine is held to as well).
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdDifferentialTests(EtcdLibUvPair pair) : IClassFixture<EtcdLibUvPair>
{
    [Fact]
    public void Random_call_sequences_give_the_libuv_servers_results_on_the_etcd_engine()
    {
        var property = Prop.ForAll(OpGenerators.Sequences(queues: true, maxLength: 25), ops => SequenceComparison.Run(pair, ops));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), property);
    }

    [Fact]
    public Task A_wait_is_released_by_a_set_from_another_client_as_on_libuv() =>
        TwoClientScenarios.BothAsync(pair, TwoClientScenarios.WaitReleasedBySet);

    [Fact]
    public Task A_blocking_queue_pop_is_released_by_a_push_from_another_client_as_on_libuv() =>
        TwoClientScenarios.BothAsync(pair, TwoClientScenarios.QueuePopReleasedByPush);

    [Fact]
    public void Raw_pipelined_streams_get_byte_identical_replies_from_libuv_and_the_etcd_engine()
    {
        var streams = Gen.Choose(1, 40).SelectMany(n => Gen.ArrayOf(LibUvRandomSequenceTests.RawRequest, n));
        using var comparison = new RawStreamComparison(pair, 0xE1E2D3C4, "etcd");
        var property = Prop.ForAll(streams.ToArbitrary(), requests => Task.Run(() => comparison.CompareAsync(requests)).GetAwaiter().GetResult());
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(15), property);
    }
}
