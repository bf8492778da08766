using System.Text;
using TcpStore.Core;

namespace TcpStore.Tests.Core;

/// <summary>
/// The per-shard open-addressing table: probing through collisions and tombstones, growth and
/// shrinking, and lock-free lookups that stay exact while one writer adds, removes and resizes.
/// Hashes are passed in, so collisions can be forced.
/// </summary>
public sealed class KeyTableTests
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static ValueCell Cell(string key) => new(B(key), B("v:" + key));

    [Fact]
    public void Keys_with_one_hash_are_found_through_tombstones_and_reuse_them()
    {
        var table = new KeyTable();
        var cells = Enumerable.Range(0, 100).Select(i => Cell($"k{i}")).ToArray();
        foreach (var cell in cells)
        {
            table.Add(7, cell);
        }

        for (var i = 0; i < cells.Length; i += 2)
        {
            Assert.True(table.Remove(7, cells[i]));
        }

        Assert.False(table.Remove(7, cells[0]));
        Assert.Equal(50, table.Count);
        for (var i = 0; i < cells.Length; i++)
        {
            Assert.Same(i % 2 == 0 ? null : cells[i], table.Find(B($"k{i}"), 7));
        }

        // Missing keys with the same hash end their probe (the table always keeps an empty slot).
        Assert.Null(table.Find(B("absent"), 7));
        var again = Enumerable.Range(0, 100).Where(i => i % 2 == 0).Select(i => Cell($"k{i}")).ToArray();
        foreach (var cell in again)
        {
            table.Add(7, cell);
        }

        Assert.Equal(100, table.Count);
        Assert.Equal(100, table.Cells().Count());
        foreach (var cell in again)
        {
            Assert.Same(cell, table.Find(cell.Key, 7));
        }
    }

    [Fact]
    public void Keys_that_differ_in_one_byte_or_in_length_are_told_apart()
    {
        // Keys of every length up to past the vectorized comparison's widths, sharing prefixes,
        // differing in one byte anywhere, all with one hash, so only the key comparison tells them apart.
        const int Longest = 40;
        var keys = new List<byte[]>();
        for (var length = 0; length <= Longest; length++)
        {
            var key = Enumerable.Repeat((byte)'k', length).ToArray();
            keys.Add(key);
            for (var at = 0; at < length; at++)
            {
                var other = (byte[])key.Clone();
                other[at] = (byte)'x';
                keys.Add(other);
            }
        }

        var table = new KeyTable();
        var cells = keys.Select(k => new ValueCell(k, k)).ToArray();
        foreach (var cell in cells)
        {
            table.Add(42, cell);
        }

        for (var i = 0; i < keys.Count; i++)
        {
            Assert.Same(cells[i], table.Find(keys[i], 42));
            Assert.True(cells[i].HasKey(keys[i]));
        }

        // A key one byte longer or shorter than a stored one, or differing in its last byte, is absent.
        var longest = Enumerable.Repeat((byte)'k', Longest + 1).ToArray();
        Assert.Null(table.Find(longest, 42));
        var changedLast = Enumerable.Repeat((byte)'k', 24).ToArray();
        changedLast[^1] = (byte)'y';
        Assert.Null(table.Find(changedLast, 42));
    }

    [Fact]
    public void Same_hash_with_a_different_key_or_length_is_not_a_match()
    {
        var table = new KeyTable();
        var cell = Cell("abc");
        table.Add(1, cell);
        Assert.Null(table.Find(B("abd"), 1));
        Assert.Null(table.Find(B("ab"), 1));
        Assert.Null(table.Find(B("abcd"), 1));
        Assert.Null(table.Find(B("abc"), 2));
        Assert.Same(cell, table.Find(B("abc"), 1));
    }

    [Fact]
    public void Grows_to_keep_probes_short_and_shrinks_when_keys_leave()
    {
        var table = new KeyTable();
        var cells = Enumerable.Range(0, 10_000).Select(i => Cell($"/rank_{i}")).ToArray();
        foreach (var cell in cells)
        {
            table.Add(ByteKeyComparer.HashOf(cell.Key), cell);
        }

        // At most three quarters used, at least a quarter: 16,384 slots for 10,000 keys.
        Assert.InRange(table.Capacity, 10_000 * 4 / 3, 10_000 * 4);
        foreach (var cell in cells)
        {
            Assert.Same(cell, table.Find(cell.Key, ByteKeyComparer.HashOf(cell.Key)));
        }

        foreach (var cell in cells.Skip(10))
        {
            Assert.True(table.Remove(ByteKeyComparer.HashOf(cell.Key), cell));
        }

        Assert.Equal(10, table.Count);
        Assert.True(table.Capacity <= 64, $"{table.Capacity} slots left for 10 keys");
        foreach (var cell in cells.Take(10))
        {
            Assert.Same(cell, table.Find(cell.Key, ByteKeyComparer.HashOf(cell.Key)));
        }

        foreach (var cell in cells.Skip(10).Take(100))
        {
            Assert.Null(table.Find(cell.Key, ByteKeyComparer.HashOf(cell.Key)));
        }
    }

    [Fact]
    public void Churn_of_one_key_keeps_the_table_at_its_smallest()
    {
        var table = new KeyTable();
        var capacity = table.Capacity;
        for (var i = 0; i < 10_000; i++)
        {
            var cell = Cell($"c{i}");
            table.Add(3, cell);
            Assert.True(table.Remove(3, cell));
        }

        Assert.Equal(0, table.Count);
        Assert.Equal(capacity, table.Capacity);
        Assert.Null(table.Find(B("c1"), 3));
    }

    [Theory]
    [InlineData(false, 1_000, 7_000, 20)]
    [InlineData(true, 64, 1_000, 6)]
    public async Task Lookups_without_a_lock_never_miss_a_key_that_stays_while_one_writer_churns_and_resizes(bool collide, int stableKeys, int churnKeys, int waves)
    {
        // The writer holds "the shard lock" by being the only writer; the readers take no lock.
        var table = new KeyTable();
        int HashOf(byte[] key) => collide ? ByteKeyComparer.HashOf(key) & 0x3 : ByteKeyComparer.HashOf(key);
        var stable = Enumerable.Range(0, stableKeys).Select(i => Cell($"stable/{i}")).ToArray();
        foreach (var cell in stable)
        {
            table.Add(HashOf(cell.Key.ToArray()), cell);
        }

        var expected = stable.Select(c => (Key: c.Key.ToArray(), Cell: c)).ToArray();
        using var done = new CancellationTokenSource();
        var misses = 0;
        var wrong = 0;
        long lookups = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (var (key, cell) in expected)
                {
                    var found = table.Find(key, HashOf(key));
                    if (found is null)
                    {
                        Interlocked.Increment(ref misses);
                    }
                    else if (!ReferenceEquals(found, cell))
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }

                Interlocked.Add(ref lookups, expected.Length);
            }
        })).ToArray();

        // Waves of adds and removes: without collisions the table grows to 16,384 slots and shrinks
        // back to 4,096 in each, copying every stable key each time, while the readers look them up;
        // with four hashes in all, every probe walks one long cluster full of tombstones.
        var churn = Enumerable.Range(0, churnKeys).Select(i => Cell($"churn/{i}")).ToArray();
        for (var wave = 0; wave < waves; wave++)
        {
            foreach (var cell in churn)
            {
                table.Add(HashOf(cell.Key.ToArray()), cell);
            }

            foreach (var cell in churn)
            {
                Assert.True(table.Remove(HashOf(cell.Key.ToArray()), cell));
            }
        }

        await done.CancelAsync();
        await Task.WhenAll(readers);
        Assert.True(lookups > 0);
        Assert.Equal(0, misses);
        Assert.Equal(0, wrong);
        Assert.Equal(stable.Length, table.Count);
    }
}
