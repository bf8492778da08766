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
    private RawClient? _rawReal;
    private RawClient? _rawOurs;
    private uint _sentinel = 0xE1E2D3C4;

    [Fact]
    public void Random_call_sequences_give_the_libuv_servers_results_on_the_etcd_engine()
    {
        var property = Prop.ForAll(OpGenerators.Sequences(queues: true, maxLength: 25), ops => SequenceComparison.Run(pair, ops));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), property);
    }

    [Fact]
    public Task A_wait_is_released_by_a_set_from_another_client_as_on_libuv() =>
        TwoClientScenarios.BothAsync(pair, async (first, second, key) =>
        {
            var wait = first.WaitAsync(TimeSpan.FromSeconds(10), key);
            await Task.Delay(300);
            var early = wait.IsCompleted ? "woken early" : "blocked";
            await second.SetAsync(key, "v"u8.ToArray());
            await wait.WaitAsync(TimeSpan.FromSeconds(20));
            return $"{early}, then {System.Text.Encoding.UTF8.GetString(await first.GetAsync(key))}";
        });

    [Fact]
    public Task A_blocking_queue_pop_is_released_by_a_push_from_another_client_as_on_libuv() =>
        TwoClientScenarios.BothAsync(pair, async (first, second, key) =>
        {
            var pop = first.QueuePopAsync(key, block: true);
            await Task.Delay(300);
            var early = pop.IsCompleted ? "woken early" : "blocked";
            await second.QueuePushAsync(key, "item"u8.ToArray());
            await second.QueuePushAsync(key, "next"u8.ToArray());
            // QUEUE_PUSH has no reply, so returning from it orders nothing: a round trip on the pushing
            // connection does (its requests run in order), before the other client reads the length.
            _ = await second.QueueLengthAsync(key);
            var popped = System.Text.Encoding.UTF8.GetString(await pop.WaitAsync(TimeSpan.FromSeconds(20)));
            return $"{early}, then {popped}, length {await first.QueueLengthAsync(key)}";
        });

    [Fact]
    public void Raw_pipelined_streams_get_byte_identical_replies_from_libuv_and_the_etcd_engine()
    {
        var streams = Gen.Choose(1, 40).SelectMany(n => Gen.ArrayOf(LibUvRandomSequenceTests.RawRequest, n));
        var property = Prop.ForAll(streams.ToArbitrary(), requests => Task.Run(() => CompareRawAsync(requests)).GetAwaiter().GetResult());
        try
        {
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(15), property);
        }
        finally
        {
            _rawReal?.Dispose();
            _rawOurs?.Dispose();
        }
    }

    private async Task CompareRawAsync(WireRequest[] requests)
    {
        var sentinel = _sentinel++ | 0x80808080;
        var bytes = Replies.Encode([.. requests, WireRequest.Ping(sentinel)]);
        _rawReal ??= await LibUvRandomSequenceTests.ConnectRawAsync(pair.Real.Port);
        _rawOurs ??= await LibUvRandomSequenceTests.ConnectRawAsync(pair.Ours.Port);
        var replies = await Task.WhenAll(
            LibUvRandomSequenceTests.ExchangeAsync(_rawReal, bytes, sentinel),
            LibUvRandomSequenceTests.ExchangeAsync(_rawOurs, bytes, sentinel));
        var (real, realClosed) = replies[0];
        var (ours, oursClosed) = replies[1];
        if (realClosed)
        {
            _rawReal.Dispose();
            _rawReal = null;
        }

        if (oursClosed)
        {
            _rawOurs.Dispose();
            _rawOurs = null;
        }

        Assert.True(
            Convert.ToHexString(real) == Convert.ToHexString(ours) && realClosed == oursClosed,
            $"replies differ for [{string.Join(" ", requests.Select(r => r.ToString()))}]\nreal ({(realClosed ? "closed" : "open")}): {Convert.ToHexString(real)}\netcd ({(oursClosed ? "closed" : "open")}): {Convert.ToHexString(ours)}");
    }
}
