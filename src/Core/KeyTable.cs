using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TcpStore.Core;

/// <summary>
/// The keys of one shard: an open-addressing hash table (linear probing) of <see cref="ValueCell"/>s,
/// read without any lock and changed only by the holder of the shard's lock.
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="System.Collections.Concurrent.ConcurrentDictionary{TKey,TValue}"/>: a GET
/// there follows the bucket array, a node, the key array, the cell and the value array, and with
/// thousands of keys each of those dependent loads is a likely cache miss; it also calls the key
/// comparer through an interface. Here a slot holds the key's hash next to the cell, so probing
/// past other keys reads no other object, and the cell carries its key at the front of its value
/// buffer: slot, cell, buffer. Writers are already serialised by the shard lock, so the table needs
/// no locking of its own; it only has to stay readable while one writer changes it.
/// </para>
/// <para>
/// Lock-free readers: a slot's cell reference is written with a release store after its hash, and
/// read with an acquire load before it, so a reader that sees a cell sees its hash and its key.
/// The hash is only a filter (a reader that meets a slot being reused compares the key anyway).
/// A deleted key leaves <see cref="ValueCell.Tombstone"/> so that probes for keys stored beyond it
/// go on; a tombstone directly before an empty slot is cleared, because no probe that reaches it can
/// find anything past the empty slot. Growth builds a new slot array and publishes it with one
/// release store; the old array is never written again, so a reader still walking it sees the table
/// exactly as it was at the moment of the switch, and its answer is linearized there.
/// </para>
/// <para>
/// The array is resized when live keys plus tombstones would pass three quarters of it (so a probe
/// always ends at an empty slot), to twice the live keys rounded up to a power of two (half full),
/// and shrunk the same way when deletes leave it under an eighth full.
/// </para>
/// </remarks>
internal sealed class KeyTable
{
    private const int MinimumCapacity = 16;

    private Slot[] _slots = new Slot[MinimumCapacity];

    // Slots that are not empty (live cells and tombstones); only under the shard lock.
    private int _used;

    /// <summary>Live keys in this table; only under the shard lock.</summary>
    public int Count { get; private set; }

    /// <summary>Slots in the current array (for tests of growth and shrinking).</summary>
    internal int Capacity => _slots.Length;

    /// <summary>The cell of <paramref name="key"/>, or null when absent. Lock-free.</summary>
    /// <param name="key">The key.</param>
    /// <param name="hash">The key's hash (<see cref="ByteKeyComparer.HashOf"/>).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueCell? Find(ReadOnlySpan<byte> key, int hash)
    {
        var slots = Volatile.Read(ref _slots);
        var mask = slots.Length - 1;
        ref var first = ref MemoryMarshal.GetArrayDataReference(slots);
        for (var index = hash & mask; ; index = (index + 1) & mask)
        {
            // In range: the mask keeps the index below the array's (power-of-two) length.
            ref var slot = ref Unsafe.Add(ref first, index);
            var cell = Volatile.Read(ref slot.Cell);
            if (cell is null)
            {
                return null;
            }

            if (slot.Hash == hash && cell.HasKey(key))
            {
                return cell;
            }
        }
    }

    /// <summary>Adds the cell of a key that is not in the table. Caller holds the shard lock.</summary>
    /// <param name="hash">The key's hash.</param>
    /// <param name="cell">The new key's cell.</param>
    public void Add(int hash, ValueCell cell)
    {
        if ((_used + 1) * 4L > _slots.Length * 3L)
        {
            Resize(Count + 1);
        }

        var slots = _slots;
        var mask = slots.Length - 1;
        var index = hash & mask;
        while (slots[index].Cell is { } occupant && !ReferenceEquals(occupant, ValueCell.Tombstone))
        {
            index = (index + 1) & mask;
        }

        if (slots[index].Cell is null)
        {
            _used++;
        }

        slots[index].Hash = hash;
        Volatile.Write(ref slots[index].Cell, cell);
        Count++;
    }

    /// <summary>Removes <paramref name="cell"/>, which the table holds for a key of this hash. Caller holds the shard lock.</summary>
    /// <returns>Whether the cell was in the table.</returns>
    public bool Remove(int hash, ValueCell cell)
    {
        var slots = _slots;
        var mask = slots.Length - 1;
        for (var index = hash & mask; slots[index].Cell is { } occupant; index = (index + 1) & mask)
        {
            if (!ReferenceEquals(occupant, cell))
            {
                continue;
            }

            Volatile.Write(ref slots[index].Cell, ValueCell.Tombstone);
            Count--;
            ClearTombstonesBefore(slots, (index + 1) & mask);
            if (slots.Length > MinimumCapacity && Count * 8L < slots.Length)
            {
                Resize(Count);
            }

            return true;
        }

        return false;
    }

    /// <summary>Every live cell (caller holds the shard lock, so none is added or removed meanwhile).</summary>
    public IEnumerable<ValueCell> Cells()
    {
        var slots = _slots;
        for (var i = 0; i < slots.Length; i++)
        {
            if (slots[i].Cell is { } cell && !ReferenceEquals(cell, ValueCell.Tombstone))
            {
                yield return cell;
            }
        }
    }

    // A run of tombstones that ends at an empty slot can become empty slots: a probe that would
    // pass them stops at the empty slot anyway. Walks back from the slot after a new tombstone.
    private void ClearTombstonesBefore(Slot[] slots, int next)
    {
        var mask = slots.Length - 1;
        if (slots[next].Cell is not null)
        {
            return;
        }

        for (var index = (next - 1) & mask; ReferenceEquals(slots[index].Cell, ValueCell.Tombstone); index = (index - 1) & mask)
        {
            Volatile.Write(ref slots[index].Cell, null);
            _used--;
        }
    }

    // Caller holds the shard lock. Copies the live cells into a new array sized for `live` keys at
    // most half full, then publishes it.
    private void Resize(int live)
    {
        var capacity = Math.Max(MinimumCapacity, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, live) * 2));
        var slots = new Slot[capacity];
        var mask = capacity - 1;
        foreach (ref readonly var old in _slots.AsSpan())
        {
            if (old.Cell is { } cell && !ReferenceEquals(cell, ValueCell.Tombstone))
            {
                var index = old.Hash & mask;
                while (slots[index].Cell is not null)
                {
                    index = (index + 1) & mask;
                }

                slots[index] = old;
            }
        }

        _used = Count;
        Volatile.Write(ref _slots, slots);
    }

    // One slot: the key's hash beside its cell, so probing compares hashes without touching cells.
    private struct Slot
    {
        public ValueCell? Cell;
        public int Hash;
    }
}
