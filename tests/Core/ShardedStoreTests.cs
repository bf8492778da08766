using System.Text;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary>
/// What the sharded store must get right beyond what one thread can show: a WAIT spanning shards
/// completed from two threads at once, lock order across multi-key operations, exact key counts, and
/// a connection retired while its WAIT is registering. Rounds are bounded; each test takes well under
/// a second when nothing is wrong.
/// </summary>
public sealed class ShardedStoreTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(128)]
    public void Shard_counts_must_be_powers_of_two_up_to_64(int shards) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new KeyValueStore(shards));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(64)]
    public void Valid_shard_counts_spread_keys_over_exactly_that_many_shards(int shards)
    {
        var store = new KeyValueStore(shards);
        Assert.Equal(shards, store.ShardCount);
        var used = Enumerable.Range(0, 4096).Select(i => store.ShardIndex(Key($"k{i}"))).ToHashSet();
        Assert.Equal(Enumerable.Range(0, shards).ToHashSet(), used);
    }

    [Fact]
    public void A_wait_on_two_shards_completed_by_two_threads_at_once_fires_exactly_once()
    {
        const int Rounds = 300;
        const int Waiters = 8;
        for (var round = 0; round < Rounds; round++)
        {
            var store = new KeyValueStore();
            var (a, b) = TwoShards(store, $"r{round}");
            var waiters = Enumerable.Range(0, Waiters).Select(_ => new CountingWaiter()).ToArray();
            foreach (var waiter in waiters)
            {
                Assert.False(Wait(store, waiter, a, b));
            }

            using var start = new Barrier(2);
            var first = new Thread(() => { start.SignalAndWait(); store.Set(Key(a), "1"u8); });
            var second = new Thread(() => { start.SignalAndWait(); store.Set(Key(b), "1"u8); });
            first.Start();
            second.Start();
            first.Join();
            second.Join();

            Assert.All(waiters, w => Assert.Equal(1, w.Fired));
            Assert.All(waiters, w => Assert.False(w.IsWaiting));
            Assert.Equal(0, store.AwaitedKeyCount);
        }
    }

    [Fact]
    public void Multi_key_operations_naming_shards_in_opposite_orders_do_not_deadlock()
    {
        const int Operations = 20_000;
        var store = new KeyValueStore();
        var keys = Enumerable.Range(0, 6).Select(i => $"/order/{i}").ToArray();
        Assert.True(keys.Select(k => store.ShardIndex(Key(k))).Distinct().Count() >= 2);
        var reversed = keys.Reverse().ToArray();
        var threads = new[]
        {
            new Thread(() => Repeat(Operations, () => MultiSet(store, keys, "x"))),
            new Thread(() => Repeat(Operations, () => MultiSet(store, reversed, "y"))),
            new Thread(() => Repeat(Operations, () => MultiGet(store, reversed))),
        };
        foreach (var thread in threads)
        {
            thread.Start();
        }

        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a multi-key operation never finished (deadlock)"));
        var values = keys.Select(k => Encoding.ASCII.GetString(store.Get(Key(k))!)).Distinct().ToList();
        Assert.Single(values);
    }

    [Fact]
    public void Key_count_and_list_keys_stay_exact_while_two_threads_create_and_delete_keys()
    {
        const int Rounds = 5_000;
        var store = new KeyValueStore();
        using var stop = new CancellationTokenSource();
        var mismatches = 0;
        var lister = new Thread(() =>
        {
            using var reply = new PooledBufferWriter();
            while (!stop.IsCancellationRequested)
            {
                reply.Clear();
                store.ListKeys(reply);
                var reader = new ResponseReader(reply.WrittenSpan);
                Assert.True(reader.TryReadInt64(out var count));
                var listed = 0;
                while (reader.TryReadBlob(1 << 20, out _))
                {
                    listed++;
                }

                if (listed != count)
                {
                    Interlocked.Increment(ref mismatches);
                }
            }
        });
        var writers = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                var key = Key($"/churn/{t}/{i % 50}");
                store.Set(key, "v"u8);
                if (i % 3 != 0)
                {
                    store.Delete(key);
                }
            }
        })).ToArray();
        lister.Start();
        foreach (var writer in writers)
        {
            writer.Start();
        }

        foreach (var writer in writers)
        {
            writer.Join();
        }

        stop.Cancel();
        lister.Join();
        Assert.Equal(0, mismatches);
        Assert.Equal(store.Keys().Count, store.KeyCount);
        var expected = Enumerable.Range(0, 2).Sum(t => Enumerable.Range(0, 50).Count(k => Enumerable.Range(0, Rounds).Last(i => i % 50 == k) % 3 == 0));
        Assert.Equal(expected, store.KeyCount);
    }

    [Fact]
    public void A_waiter_retired_while_its_wait_registers_on_several_shards_leaves_nothing_registered()
    {
        const int Rounds = 500;
        var store = new KeyValueStore();
        var random = new Random(7);
        var registeredFirst = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var (a, b) = TwoShards(store, $"r{round}");
            var frame = WireRequest.Multi(QueryType.Wait, [Key(a), Key(b)]).Encode();
            var waiter = new CountingWaiter();
            var delay = random.Next(0, 2) == 0 ? 0 : random.Next(0, 20_000);
            using var start = new Barrier(2);
            var waiting = new Thread(() =>
            {
                start.SignalAndWait();
                var reader = new RequestReader(frame, CodecLimits.Default);
                reader.TryRead(out var request);
                store.WaitOrRegister(request.Keys, waiter);
            });
            var retiring = new Thread(() =>
            {
                start.SignalAndWait();
                // A random head start for the WAIT, so that both orders happen across the rounds.
                Thread.SpinWait(delay);
                if (store.AwaitedKeyCount > 0)
                {
                    Interlocked.Increment(ref registeredFirst);
                }

                store.Retire(waiter);
            });
            waiting.Start();
            retiring.Start();
            waiting.Join();
            retiring.Join();

            Assert.Equal(0, store.AwaitedKeyCount);
            Assert.False(waiter.IsWaiting);
            Assert.Equal(0, waiter.Fired);
        }

        // Both orders must have happened, or the test did not test the race.
        Assert.InRange(registeredFirst, 1, Rounds - 1);
    }

    private static byte[] Key(string text) => Encoding.ASCII.GetBytes(text);

    private static void Repeat(int times, Action action)
    {
        for (var i = 0; i < times; i++)
        {
            action();
        }
    }

    private static (string A, string B) TwoShards(KeyValueStore store, string prefix)
    {
        var a = $"/{prefix}/a";
        var b = Enumerable.Range(0, 1000).Select(i => $"/{prefix}/b{i}").First(k => store.ShardIndex(Key(k)) != store.ShardIndex(Key(a)));
        return (a, b);
    }

    private static bool Wait(KeyValueStore store, Waiter waiter, params string[] keys)
    {
        var frame = WireRequest.Multi(QueryType.Wait, [.. keys.Select(Key)]).Encode();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        return store.WaitOrRegister(request.Keys, waiter);
    }

    private static void MultiSet(KeyValueStore store, string[] keys, string value)
    {
        var frame = WireRequest.MultiSet([.. keys.Select(Key)], [.. keys.Select(_ => Key(value))]).Encode();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        store.MultiSet(request.Keys);
    }

    private static void MultiGet(KeyValueStore store, string[] keys)
    {
        var frame = WireRequest.Multi(QueryType.MultiGet, [.. keys.Select(Key)]).Encode();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        using var reply = new PooledBufferWriter();
        store.MultiGet(request.Keys, reply);
    }

    private sealed class CountingWaiter : Waiter
    {
        private int _fired;

        public int Fired => Volatile.Read(ref _fired);

        protected internal override void OnWaitSatisfied() => Interlocked.Increment(ref _fired);
    }
}
