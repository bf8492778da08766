using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Core.Inspection;

namespace TcpStore.Tests.Inspection;

/// <summary>A connection's inspection counters: by type, past 2^32, and reset for a reused connection.</summary>
public sealed class SessionStatsTests
{
    [Fact]
    public void Counts_requests_by_type_the_rank_key_and_torchrun_compare_sets_and_reset_forgets_them()
    {
        var stats = new SessionStats();
        Execute(stats, QueryType.Get, "a");
        Execute(stats, QueryType.Get, "b");
        Execute(stats, QueryType.Set, "default_pg/3");
        Execute(stats, QueryType.CompareSet, "/torch.rendezvous.job1");
        stats.OnBatch(100);
        stats.OnSent(40);

        Assert.Equal(2, stats.Requests(QueryType.Get));
        Assert.Equal(1, stats.Requests(QueryType.Set));
        Assert.Equal(1, stats.Requests(QueryType.CompareSet));
        Assert.Equal(0, stats.Requests(QueryType.Add));
        Assert.Equal(SessionStats.RankKeyHash("default_pg/3"u8), stats.LastRankKeyHash);
        Assert.Equal(1, stats.RendezvousCompareSets);
        Assert.Equal(100, stats.BytesIn);
        Assert.Equal(40, stats.BytesOut);
        Assert.NotEqual(0, stats.LastRequestTicks);

        var totals = new long[SessionStats.TypeSlots];
        long bytesIn = 0, bytesOut = 0, compareSets = 0;
        stats.AddTo(totals, ref bytesIn, ref bytesOut, ref compareSets);
        Assert.Equal(2, totals[(int)QueryType.Get]);
        Assert.Equal((100L, 40L, 1L), (bytesIn, bytesOut, compareSets));

        stats.Reset();
        Assert.All(Enum.GetValues<QueryType>(), type => Assert.Equal(0, stats.Requests(type)));
        Assert.Equal((0L, 0L, 0L, 0, 0L), (stats.BytesIn, stats.BytesOut, stats.LastRequestTicks, stats.LastRankKeyHash, stats.RendezvousCompareSets));
    }

    [Fact]
    public void A_counter_keeps_counting_past_two_to_the_32_and_reset_drops_the_carry()
    {
        var stats = new SessionStats();
        stats.Preset(QueryType.Get, uint.MaxValue - 1);
        for (var i = 0; i < 3; i++)
        {
            Execute(stats, QueryType.Get, "k");
        }

        Assert.Equal((1L << 32) + 1, stats.Requests(QueryType.Get));
        Assert.Equal(0, stats.Requests(QueryType.Set));
        var totals = new long[SessionStats.TypeSlots];
        long bytesIn = 0, bytesOut = 0, compareSets = 0;
        stats.AddTo(totals, ref bytesIn, ref bytesOut, ref compareSets);
        Assert.Equal((1L << 32) + 1, totals[(int)QueryType.Get]);

        stats.Reset();
        Execute(stats, QueryType.Get, "k");
        Assert.Equal(1, stats.Requests(QueryType.Get));
    }

    // As the session does: count the request; after a SET, record the hash the store computed.
    private static void Execute(SessionStats stats, QueryType type, string key)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(key);
        var request = new Request { Type = type, Key = bytes };
        stats.OnRequest(ref request);
        if (type == QueryType.Set)
        {
            stats.OnSet(bytes, new KeyValueStore().Set(bytes, "v"u8));
        }
    }
}
