using System.Diagnostics;
using System.Text;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Linearizability;

/// <summary>
/// The checker must reject the history of a multi-shard step that is not atomic. The broken step is
/// built from the real store: a MULTI_SET done as one MULTI_SET per shard, so it releases the first
/// shard's lock before it takes the next one, and the interleaving that exposes it (a MULTI_GET from
/// another thread between the two shards) is forced rather than hoped for.
/// </summary>
public sealed class BrokenMultiSetTests
{
    private const string Group = "/lin/grp/broken";

    [Fact]
    public void A_multi_set_that_releases_one_shard_before_writing_the_next_is_rejected()
    {
        var store = new KeyValueStore();
        var keys = KeysOnTwoShards(store);
        var history = new List<Op> { MultiSet(store, keys, "old", split: false, between: null) };
        Op? read = null;
        history.Add(MultiSet(store, keys, "new", split: true, between: () =>
        {
            // Another client's MULTI_GET, on its own thread, after the first shard was written and released.
            var reader = new Thread(() => read = MultiGet(store, keys));
            reader.Start();
            reader.Join();
        }));
        history.Add(read!);

        // The forced interleaving really happened: the read saw the first key new and the second old.
        Assert.Equal(["new", "old"], read!.Values);
        var errors = HistoryChecker.Check(history, new Dictionary<string, string>());
        Assert.Contains(errors, e => e.StartsWith(Group, StringComparison.Ordinal));
    }

    [Fact]
    public void The_same_steps_with_the_real_multi_set_pass()
    {
        var store = new KeyValueStore();
        var keys = KeysOnTwoShards(store);
        var history = new List<Op> { MultiSet(store, keys, "old", split: false, between: null) };
        Op? read = null;
        Op? write = null;
        var reader = new Thread(() => read = MultiGet(store, keys));
        var writer = new Thread(() => write = MultiSet(store, keys, "new", split: false, between: null));
        writer.Start();
        reader.Start();
        writer.Join();
        reader.Join();
        history.Add(write!);
        history.Add(read!);

        Assert.True(read!.Values.Distinct().Count() == 1, $"MULTI_GET saw {string.Join(',', read.Values)}");
        Assert.Empty(HistoryChecker.Check(history, new Dictionary<string, string>()));
    }

    [Fact]
    public void Concurrent_multi_sets_multi_gets_and_single_key_writes_and_reads_on_the_real_store_pass()
    {
        var store = new KeyValueStore();
        var keys = KeysOnTwoShards(store);
        var writes = new List<Op>();
        var reads = new List<Op>();
        var singles = new List<Op>();
        var writer = new Thread(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                writes.Add(MultiSet(store, keys, $"v{i}", split: false, between: null));
            }
        });
        var reader = new Thread(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                reads.Add(MultiGet(store, keys));
            }
        });
        // Lock-free GETs and fast-path SETs (no shard lock) must see each multi-key step whole too.
        var single = new Thread(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                var key = keys[i % 2];
                var started = Stopwatch.GetTimestamp();
                if (i % 3 == 0)
                {
                    store.Set(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes($"s{i}"));
                    singles.Add(new Op(2, OpKind.Set, Group, $"s{i}", string.Empty, string.Empty, started, Stopwatch.GetTimestamp()) { Keys = [key] });
                }
                else
                {
                    var value = store.Get(Encoding.UTF8.GetBytes(key)) is { } bytes ? Encoding.UTF8.GetString(bytes) : string.Empty;
                    singles.Add(new Op(2, OpKind.Get, Group, string.Empty, string.Empty, value, started, Stopwatch.GetTimestamp()) { Keys = [key] });
                }
            }
        });
        writer.Start();
        reader.Start();
        single.Start();
        writer.Join();
        reader.Join();
        single.Join();

        Assert.Empty(HistoryChecker.Check([.. writes, .. reads, .. singles], new Dictionary<string, string>()));
    }

    // Two keys on different shards, the first on the lower shard (the order the real step locks them).
    private static string[] KeysOnTwoShards(KeyValueStore store)
    {
        var first = $"{Group}/a";
        var second = Enumerable.Range(0, 1000).Select(i => $"{Group}/b{i}").First(k => Shard(store, k) != Shard(store, first));
        return Shard(store, first) < Shard(store, second) ? [first, second] : [second, first];
    }

    private static int Shard(KeyValueStore store, string key) => store.ShardIndex(Encoding.UTF8.GetBytes(key));

    // A MULTI_SET of one value to every key; split: one real MULTI_SET per shard, ascending, calling
    // between() after each shard but the last, with that shard's lock already released.
    private static Op MultiSet(KeyValueStore store, string[] keys, string value, bool split, Action? between)
    {
        var started = Stopwatch.GetTimestamp();
        if (!split)
        {
            Execute(store, keys, value);
        }
        else
        {
            var byShard = keys.GroupBy(k => Shard(store, k)).OrderBy(g => g.Key).ToList();
            for (var i = 0; i < byShard.Count; i++)
            {
                Execute(store, [.. byShard[i]], value);
                if (i < byShard.Count - 1)
                {
                    between?.Invoke();
                }
            }
        }

        return new Op(0, OpKind.MultiSet, Group, string.Empty, string.Empty, string.Empty, started, Stopwatch.GetTimestamp())
        {
            Keys = keys,
            Values = [.. keys.Select(_ => value)],
        };
    }

    private static void Execute(KeyValueStore store, string[] keys, string value)
    {
        var frame = WireRequest.MultiSet([.. keys.Select(RawClient.Key)], [.. keys.Select(_ => RawClient.Key(value))]).Encode();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        store.MultiSet(request.Keys);
    }

    private static Op MultiGet(KeyValueStore store, string[] keys)
    {
        var frame = WireRequest.Multi(QueryType.MultiGet, [.. keys.Select(RawClient.Key)]).Encode();
        var started = Stopwatch.GetTimestamp();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        using var reply = new PooledBufferWriter();
        store.MultiGet(request.Keys, reply);
        var returned = Stopwatch.GetTimestamp();
        var replies = new ResponseReader(reply.WrittenSpan);
        var values = new List<string>();
        foreach (var _ in keys)
        {
            Assert.True(replies.TryReadBlob(1 << 20, out var blob));
            values.Add(Encoding.UTF8.GetString(blob));
        }

        return new Op(1, OpKind.MultiGet, Group, string.Empty, string.Empty, string.Empty, started, returned) { Keys = keys, Values = values };
    }
}
