using System.Text;
using TcpStore.Core;

namespace TcpStore.Tests.Core;

/// <summary>
/// The store's key hash: equal keys hash equally whichever form they come in, and keys that differ
/// in one byte, in length only, or in any position of every length the hash treats separately
/// (0, 1-3, 4-7, 8-16, over 16 bytes) spread across buckets and shards.
/// </summary>
public sealed class ByteKeyComparerTests
{
    private static readonly ByteKeyComparer Comparer = ByteKeyComparer.Instance;

    [Fact]
    public void Span_and_array_forms_of_equal_keys_hash_and_compare_equal()
    {
        for (var length = 0; length <= 70; length++)
        {
            var key = Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 3)).ToArray();
            var copy = key.ToArray();
            Assert.Equal(Comparer.GetHashCode(key), Comparer.GetHashCode(copy));
            Assert.Equal(Comparer.GetHashCode(key), Comparer.GetHashCode((ReadOnlySpan<byte>)copy));
            Assert.True(Comparer.Equals(key, copy));
            Assert.True(Comparer.Equals((ReadOnlySpan<byte>)copy, key));
        }
    }

    [Fact]
    public void Every_single_byte_change_and_every_length_change_changes_the_hash()
    {
        // Keys of all lengths up to 70, each byte flipped in turn, plus every zero-filled prefix
        // (which differ only in length): with a 32-bit hash a collision among these few thousand
        // keys would mean the mixing drops a byte, not bad luck (chance about 1 in 400).
        var hashes = new HashSet<int>();
        var keys = 0;
        for (var length = 0; length <= 70; length++)
        {
            var zeros = new byte[length];
            hashes.Add(Comparer.GetHashCode(zeros));
            keys++;
            for (var position = 0; position < length; position++)
            {
                var key = new byte[length];
                key[position] = 1;
                hashes.Add(Comparer.GetHashCode(key));
                keys++;
            }
        }

        Assert.Equal(keys, hashes.Count);
    }

    [Fact]
    public void Typical_rank_keys_spread_evenly_over_shards()
    {
        var store = new KeyValueStore(KeyValueStore.MaxShardCount);
        var perShard = new int[store.ShardCount];
        const int Keys = 64 * 200;
        for (var rank = 0; rank < Keys; rank++)
        {
            perShard[store.ShardIndex(Encoding.ASCII.GetBytes($"/default_pg/0//cuda//rank_{rank}"))]++;
        }

        // 200 expected per shard; a binomial spread stays well inside 100..300.
        Assert.All(perShard, count => Assert.InRange(count, 100, 300));
    }
}
