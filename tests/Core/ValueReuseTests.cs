using System.Text;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Tests.Core;

/// <summary>
/// The store reuses a key's value buffer in place on overwrite (zero allocation per write) and
/// lets GET read it without the lock; these check values stay exact across that reuse.
/// </summary>
public sealed class ValueReuseTests
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static string ReadReply(KeyValueStore store, string key)
    {
        using var reply = new PooledBufferWriter();
        store.WriteValue(B(key), reply);
        var reader = new ResponseReader(reply.WrittenSpan);
        Assert.True(reader.TryReadBlob(long.MaxValue, out var blob));
        return Encoding.ASCII.GetString(blob);
    }

    [Fact]
    public void Overwrites_that_shrink_grow_append_add_and_compare_set_read_back_exactly()
    {
        var store = new KeyValueStore();
        store.Set(B("k"), B("a-long-first-value"));
        var before = store.Get(B("k"));
        store.Set(B("k"), B("short"));
        Assert.Equal("short", ReadReply(store, "k"));
        // A copy taken earlier is not affected by the in-place overwrite.
        Assert.Equal("a-long-first-value", Encoding.ASCII.GetString(before!));
        store.Set(B("k"), B("a value longer than any before it"));
        Assert.Equal("a value longer than any before it", ReadReply(store, "k"));
        store.Append(B("k"), B("+tail"));
        store.Append(B("k"), B(new string('x', 100)));
        Assert.Equal("a value longer than any before it+tail" + new string('x', 100), ReadReply(store, "k"));

        store.Set(B("n"), B("9"));
        Assert.True(store.TryAdd(B("n"), 1, out var ten));
        Assert.Equal(10, ten);
        Assert.True(store.TryAdd(B("n"), -1_000_000_000_000, out _));
        Assert.Equal("-999999999990", ReadReply(store, "n"));

        using var casReply = new PooledBufferWriter();
        store.CompareSet(B("n"), B("-999999999990"), B("7"), casReply);
        Assert.Equal("7", ReadReply(store, "n"));
        Assert.Equal(2, store.KeyCount);
    }

    [Fact]
    public void Delete_then_set_creates_a_fresh_value_and_an_old_copy_stays_intact()
    {
        var store = new KeyValueStore();
        store.Set(B("k"), B("old"));
        var copy = store.Get(B("k"));
        Assert.True(store.Delete(B("k")));
        Assert.Null(store.Get(B("k")));
        store.Set(B("k"), B("new!"));
        Assert.Equal("new!", ReadReply(store, "k"));
        Assert.Equal("old", Encoding.ASCII.GetString(copy!));
        Assert.Equal(1, store.KeyCount);
    }

    [Fact]
    public async Task Lock_free_readers_never_see_a_torn_value_while_a_writer_overwrites_in_place()
    {
        // Two values of different length and content; any mix of them (torn read) is a failure.
        var store = new KeyValueStore();
        var first = Enumerable.Repeat((byte)'A', 200).ToArray();
        var second = Enumerable.Repeat((byte)'B', 37).ToArray();
        store.Set(B("hot"), first);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var writes = 0L;
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 2_000_000 && !stop.IsCancellationRequested; i++)
            {
                store.Set(B("hot"), (i & 1) == 0 ? second : first);
                writes++;
            }
        });

        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            using var reply = new PooledBufferWriter();
            var reads = 0;
            for (; reads < 1_000_000 && !stop.IsCancellationRequested; reads++)
            {
                reply.Clear();
                store.WriteValue(B("hot"), reply);
                var reader = new ResponseReader(reply.WrittenSpan);
                Assert.True(reader.TryReadBlob(long.MaxValue, out var blob));
                Assert.True(blob.SequenceEqual(first) || blob.SequenceEqual(second), $"torn read of {blob.Length} bytes");
                Assert.Equal(reply.WrittenCount, reader.Consumed);
            }

            return reads;
        })).ToArray();

        var readCounts = await Task.WhenAll(readers);
        await stop.CancelAsync();
        await writer;
        Assert.All(readCounts, count => Assert.True(count > 0));
        Assert.True(writes > 0);
    }
}
