using System.Buffers.Binary;
using System.Text;
using TcpStore.Core.Inspection;

namespace TcpStore.Tests.Inspection;

/// <summary>The key-convention decoder on hand-made snapshots (the real-client tests drive it end to end).</summary>
public sealed class RendezvousDecoderTests
{
    private const string Prefix = "/0//cpu//0/";

    /// <summary>A value laid out as gloo's TCP transport writes it (hostname, address, one pair id per rank).</summary>
    public static byte[] GlooValue(int rank, int world, string host = "node-a")
    {
        var hostBytes = Encoding.ASCII.GetBytes(host);
        var address = new byte[24];
        BinaryPrimitives.WriteInt64LittleEndian(address.AsSpan(16), rank);
        var value = new byte[8 + hostBytes.Length + 8 + address.Length + (8 * world)];
        var span = value.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(span, (ulong)hostBytes.Length);
        hostBytes.CopyTo(span[8..]);
        var at = 8 + hostBytes.Length;
        BinaryPrimitives.WriteUInt64LittleEndian(span[at..], (ulong)address.Length);
        address.CopyTo(span[(at + 8)..]);
        at += 8 + address.Length;
        for (var i = 0; i < world; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + (8 * i))..], 1000 + i);
        }

        return value;
    }

    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static RendezvousReport Decode(
        Dictionary<string, byte[]> keys,
        IEnumerable<(long Connection, string Key)>? waits = null,
        Dictionary<long, string>? lastRankKeys = null,
        int? world = null)
    {
        var raw = keys.ToDictionary(k => k.Key, k => B(k.Key));
        return RendezvousDecoder.Decode(new RendezvousInput
        {
            Keys = [.. raw.Values],
            ReadValue = key => keys.GetValueOrDefault(Encoding.UTF8.GetString(key)),
            Waits = [.. (waits ?? []).Select(w => new InspectedWait(w.Connection, B(w.Key), 0))],
            RankKeyHashes = (lastRankKeys ?? []).ToDictionary(p => p.Key, p => SessionStats.RankKeyHash(B(p.Value))),
            NowTicks = 5000,
            WorldSize = world,
        });
    }

    [Fact]
    public void Gloo_values_give_the_world_size_so_every_absent_rank_is_named()
    {
        var keys = Enumerable.Range(0, 6).ToDictionary(r => Prefix + r, r => GlooValue(r, 8));
        var waits = Enumerable.Range(0, 6).Select(r => ((long)r, Prefix + "6"));
        var report = Decode(keys, waits, Enumerable.Range(0, 6).ToDictionary(r => (long)r, r => Prefix + r));

        var group = Assert.Single(report.Groups, g => g.Kind == RendezvousKinds.RankKeys);
        Assert.Equal("0//cpu//0", group.Name);
        Assert.Equal(8, group.WorldSize);
        Assert.Equal("gloo rank value", group.WorldSizeSource);
        Assert.Equal([6, 7], group.MissingRanks);
        Assert.False(group.LaterRanksUnknown);
        Assert.False(group.Complete);
        Assert.Equal(6, group.WaitingConnections);
        Assert.Equal(5.0, group.OldestWaitSeconds);
        Assert.Equal("0//cpu//0: 6 of 8 ranks present, missing 6, 7; 6 connections waiting, oldest 5 s", group.Summary);
        Assert.Equal(new ConnectionRank("0//cpu//0", 3), report.ConnectionRanks[3]);
    }

    [Fact]
    public void Without_a_world_size_only_certain_ranks_are_named_and_later_ones_are_unknown()
    {
        // Opaque values (not gloo's layout): the world size cannot be read, and is not guessed.
        var keys = new[] { 0, 1, 2, 3, 5 }.ToDictionary(r => Prefix + r, _ => B("opaque"));
        var report = Decode(keys, [(0, Prefix + "4")]);

        var group = Assert.Single(report.Groups);
        Assert.Null(group.WorldSize);
        Assert.Equal([4], group.MissingRanks);
        Assert.True(group.LaterRanksUnknown);
        Assert.Null(group.MissingCount);
        Assert.Contains("certainly missing 4; later ranks unknown", group.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void The_operator_world_size_overrides_and_names_the_tail()
    {
        var keys = Enumerable.Range(0, 6).ToDictionary(r => Prefix + r, _ => B("opaque"));
        var report = Decode(keys, [(0, Prefix + "6")], world: 8);

        var group = Assert.Single(report.Groups);
        Assert.Equal("operator", group.WorldSizeSource);
        Assert.Equal([6, 7], group.MissingRanks);
        Assert.Equal(2, group.MissingCount);
    }

    [Fact]
    public void Disagreeing_gloo_values_give_no_world_size()
    {
        var keys = new Dictionary<string, byte[]> { [Prefix + "0"] = GlooValue(0, 8), [Prefix + "1"] = GlooValue(1, 4) };
        var group = Assert.Single(Decode(keys).Groups);
        Assert.Null(group.WorldSize);
        Assert.True(group.LaterRanksUnknown);
    }

    [Fact]
    public void A_complete_group_is_marked_complete_and_sorted_last()
    {
        var keys = Enumerable.Range(0, 2).ToDictionary(r => "/a/" + r, r => GlooValue(r, 2));
        foreach (var (k, v) in Enumerable.Range(0, 1).ToDictionary(r => "/b/" + r, r => GlooValue(r, 2)))
        {
            keys[k] = v;
        }

        var report = Decode(keys, [(9, "/b/1")]);
        Assert.Equal(["b", "a"], report.Groups.Select(g => g.Name));
        Assert.True(report.Groups[1].Complete);
        Assert.Equal([1], report.Groups[0].MissingRanks);
    }

    [Fact]
    public void Stray_digit_keys_are_not_a_rendezvous()
    {
        Assert.Empty(Decode(new Dictionary<string, byte[]> { ["/version/1"] = B("x"), ["/step7"] = B("y") }).Groups);
    }

    [Fact]
    public void Store_based_barrier_names_missing_ranks_from_the_waiting_connections_ranks()
    {
        var keys = Enumerable.Range(0, 8).ToDictionary(r => Prefix + r, r => GlooValue(r, 8));
        keys["/store_based_barrier_key:1"] = B("6");
        var waits = Enumerable.Range(0, 6).Select(r => ((long)r, "/store_based_barrier_key:1:last_worker"));
        var ranks = Enumerable.Range(0, 8).ToDictionary(r => (long)r, r => Prefix + r);

        var unknownWorld = Assert.Single(Decode(keys, waits, ranks).Groups, g => g.Kind == RendezvousKinds.StoreBarrier);
        Assert.Equal(6, unknownWorld.Arrived);
        Assert.Empty(unknownWorld.MissingRanks);
        Assert.Contains("6 arrived (world size unknown)", unknownWorld.Summary, StringComparison.Ordinal);

        var barrier = Assert.Single(Decode(keys, waits, ranks, world: 8).Groups, g => g.Kind == RendezvousKinds.StoreBarrier);
        Assert.Equal("store_based_barrier_key:1", barrier.Name);
        Assert.Equal([6, 7], barrier.MissingRanks);
        Assert.Equal([0, 1, 2, 3, 4, 5], barrier.PresentRanks);
        Assert.Equal("store_based_barrier_key:1: 6 of 8 arrived, missing 6, 7; 6 connections waiting, oldest 5 s", barrier.Summary);
    }

    [Fact]
    public void Store_based_barrier_with_anonymous_waiters_counts_but_does_not_name()
    {
        var keys = new Dictionary<string, byte[]> { ["/store_based_barrier_key:1"] = B("3") };
        var waits = Enumerable.Range(0, 3).Select(r => ((long)r, "/store_based_barrier_key:1:last_worker"));
        var barrier = Assert.Single(Decode(keys, waits, world: 4).Groups);
        Assert.Empty(barrier.MissingRanks);
        Assert.Equal(1, barrier.MissingCount);
        Assert.Contains("3 of 4 arrived, 1 missing (barrier arrivals are anonymous)", barrier.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Released_store_barrier_is_complete()
    {
        var keys = new Dictionary<string, byte[]> { ["/store_based_barrier_key:0"] = B("4"), ["/store_based_barrier_key:0:last_worker"] = B("1") };
        var barrier = Assert.Single(Decode(keys, world: 4).Groups);
        Assert.True(barrier.Complete);
        Assert.Equal(0, barrier.MissingCount);
    }

    [Fact]
    public void Torchelastic_barrier_trace_keys_name_the_missing_ranks()
    {
        const string p = "/rdzv/barrier";
        var keys = new Dictionary<string, byte[]> { [p + "/num_members"] = B("6") };
        foreach (var r in Enumerable.Range(0, 6))
        {
            keys[$"{p}{r}/TRACE"] = B("<val_ignored>");
        }

        var waits = new List<(long, string)> { (0, $"{p}6/TRACE") };
        waits.AddRange(Enumerable.Range(1, 5).Select(r => ((long)r, p + "/TRACING_GATE")));

        var unknownWorld = Assert.Single(Decode(keys, waits).Groups);
        Assert.Equal(RendezvousKinds.ElasticBarrier, unknownWorld.Kind);
        Assert.Equal([6], unknownWorld.MissingRanks);
        Assert.Contains("6 arrived (world size unknown), missing 6", unknownWorld.Summary, StringComparison.Ordinal);

        var known = Assert.Single(Decode(keys, waits, world: 8).Groups);
        Assert.Equal([6, 7], known.MissingRanks);
        Assert.Equal("rdzv/barrier: 6 of 8 arrived, missing 6, 7; 6 connections waiting, oldest 5 s", known.Summary);
    }

    [Fact]
    public void Torchrun_state_and_init_counter_are_reported_without_decoding_values()
    {
        var keys = new Dictionary<string, byte[]> { ["/torch.rendezvous.job1"] = new byte[300], ["init/"] = B("6") };
        var report = RendezvousDecoder.Decode(new RendezvousInput
        {
            Keys = [.. keys.Keys.Select(B)],
            ReadValue = key => keys[Encoding.UTF8.GetString(key)],
            Waits = [],
            RankKeyHashes = new Dictionary<long, int>(),
            RendezvousCompareSets = 17,
            WorldSize = 8,
        });
        Assert.Contains(report.Groups, g => g.Summary == "torch.rendezvous.job1: state 300 B, compare-and-set 17 times (all run ids)");
        var init = Assert.Single(report.Groups, g => g.Kind == RendezvousKinds.ClientInit);
        Assert.Equal("init/: 6 of 8 clients checked in", init.Summary);
        Assert.False(init.Complete);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(1024)]
    public void Gloo_value_layout_gives_its_world_size(int world) => Assert.Equal(world, GlooRankValue.WorldSize(GlooValue(0, world)));

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:29500")]
    [InlineData("0123456789abcdef0123456789abcdef")]
    public void Other_values_are_not_gloo_values(string text) => Assert.Null(GlooRankValue.WorldSize(B(text)));

    [Fact]
    public void Truncated_gloo_values_are_rejected()
    {
        var value = GlooValue(0, 4);
        for (var cut = 1; cut < value.Length; cut++)
        {
            var size = GlooRankValue.WorldSize(value.AsSpan(0, value.Length - cut));
            Assert.True(size is null || size < 4, $"cut {cut}");
        }
    }

    [Theory]
    [InlineData("/0//cpu//0/12", true)]
    [InlineData("/store_based_barrier_key:1", true)]
    [InlineData("/store_based_barrier_key:1:last_worker", true)]
    [InlineData("/rdzv/num_members", true)]
    [InlineData("/rdzv3/TRACE", true)]
    [InlineData("/torch.rendezvous.job", true)]
    [InlineData("init/", true)]
    [InlineData("/bench/key:00000123", false)]
    [InlineData("/model/weights", false)]
    [InlineData("/step7", false)]
    public void Keys_are_screened_by_their_bytes_before_decoding(string key, bool matters) =>
        Assert.Equal(matters, RendezvousDecoder.MayMatter(B(key)));

    [Fact]
    public void Rank_lists_use_ranges()
    {
        Assert.Equal("0, 2, 5-9, 11, 12", RendezvousDecoder.RankList([0, 2, 5, 6, 7, 8, 9, 11, 12]));
        Assert.Equal(string.Empty, RendezvousDecoder.RankList([]));
    }

    [Fact]
    public void Unprintable_keys_are_escaped()
    {
        Assert.Equal("a/b\\x00\\x1b[2J\\xff\\x5c", KeyText.Printable([.. B("a/b"), 0, 0x1b, .. B("[2J"), 0xff, (byte)'\\']));
        Assert.Equal("ключ", KeyText.Printable(B("ключ")));
    }
}
