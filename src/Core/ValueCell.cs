using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace TcpStore.Core;

/// <summary>
/// One key of the store and its value: a buffer holding the key followed by the value (writes reuse
/// it in place), the value's length, and a sequence number that both serialises writers and lets
/// lock-free readers detect a concurrent write and retry (a seqlock).
/// </summary>
/// <remarks>
/// An odd sequence number means a writer holds the cell. A writer takes it with a compare-and-swap
/// from even to odd (<see cref="Enter"/>, a full fence, so no store of the new bytes can become
/// visible before it), changes the buffer, then makes it even again (<see cref="Exit"/>, a release
/// store, so every new byte is visible before it). A reader copies while the sequence is even and
/// unchanged across the copy; the copy is then exactly the value at the moment it read the first
/// sequence number, which is where such a GET is linearized. A reader that overlaps a write may copy
/// torn bytes, but it discards them. Overwrites of the same or smaller size, and counters, therefore
/// allocate nothing. A multi-key step holds all its cells at once, so a reader that sees one of its
/// values waits until all of them are in place. A deleted cell is marked removed while held, so a
/// writer that found it just before the DELETE notices and starts again from the map.
/// <para>
/// The key lives at the front of the value's buffer so that a lookup, which compares the key and
/// then copies the value, touches one array after the cell: with thousands of keys every dependent
/// load is a likely cache miss (docs/performance.md, "Against the floor"). The key never changes,
/// and every buffer a cell ever has starts with it, so a reader may compare the key in whichever
/// buffer it sees without the seqlock.
/// </para>
/// </remarks>
internal sealed class ValueCell
{
    // Below this a value never shrinks its buffer; above it a value that needs under a quarter
    // of its buffer gets a right-sized one, so one huge value does not pin its memory forever.
    private const int ShrinkThreshold = 1024;

    // The key (first _keyLength bytes) then the value (next _length bytes).
    private byte[] _buffer;
    private readonly int _keyLength;
    private int _length;
    private int _sequence;

    // The managed thread id of a multi-key step holding the cell (0 when free, and while a single-key
    // write holds it): lets a multi-key step that names a key twice see that it already holds the
    // cell. Only multi-key steps ask, and a thread is never in a single-key write and a multi-key
    // step at once, so a single-key write need not record itself (reading the thread id is a call
    // into the runtime, on every SET and ADD).
    private int _holder;
    private bool _removed;

    /// <summary>A new cell for <paramref name="key"/> holding a copy of <paramref name="value"/>; when <paramref name="held"/>, already held by the calling thread.</summary>
    /// <param name="key">The key, copied into the cell.</param>
    /// <param name="value">The first value, copied.</param>
    /// <param name="minimumCapacity">Room to keep for the value (a counter's longest decimal), so later writes reuse the buffer.</param>
    /// <param name="held">Whether the calling thread holds the new cell (a multi-key step creating it).</param>
    public ValueCell(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int minimumCapacity = 0, bool held = false)
    {
        _keyLength = key.Length;
        _buffer = new byte[key.Length + Math.Max(value.Length, minimumCapacity)];
        key.CopyTo(_buffer);
        value.CopyTo(_buffer.AsSpan(_keyLength));
        _length = value.Length;
        if (held)
        {
            _sequence = 1;
            _holder = Environment.CurrentManagedThreadId;
        }
    }

    // The shared marker of a deleted table slot: its key length matches no key.
    private ValueCell()
    {
        _buffer = [];
        _keyLength = -1;
    }

    /// <summary>The marker a <see cref="KeyTable"/> leaves in the slot of a deleted key; never a live cell.</summary>
    internal static ValueCell Tombstone { get; } = new();

    /// <summary>The key. Immutable, so readable without holding the cell.</summary>
    public ReadOnlySpan<byte> Key => Volatile.Read(ref _buffer).AsSpan(0, _keyLength);

    /// <summary>The value. Only while holding the cell, where no write can overlap.</summary>
    public ReadOnlySpan<byte> Locked => _buffer.AsSpan(_keyLength, _length);

    /// <summary>Whether this cell is the one for <paramref name="key"/>. Lock-free (the key never changes).</summary>
    public bool HasKey(ReadOnlySpan<byte> key) =>
        _keyLength == key.Length && Volatile.Read(ref _buffer).AsSpan(0, key.Length).SequenceEqual(key);

    /// <summary>Whether the calling thread holds the cell.</summary>
    public bool IsHeldByCurrentThread => (Volatile.Read(ref _sequence) & 1) != 0 && _holder == Environment.CurrentManagedThreadId;

    /// <summary>
    /// Whether, at the moment of the call, the cell was free and not deleted, so its key existed with
    /// a complete value (no multi-key step was half done on it). Lock-free; false means "ask under the lock".
    /// </summary>
    public bool IsSettled
    {
        get
        {
            // The sequence first (acquire): a DELETE marks the cell removed before its release store,
            // so a removal that came before this read is seen below.
            var sequence = Volatile.Read(ref _sequence);
            return (sequence & 1) == 0 && !Volatile.Read(ref _removed);
        }
    }

    /// <summary>Takes the cell for writing and records the holding thread (multi-key steps, and the paths under a shard lock), waiting for another writer to finish. Not reentrant.</summary>
    public void Enter()
    {
        Acquire();
        _holder = Environment.CurrentManagedThreadId;
    }

    /// <summary>Takes the cell for a single-key write unless it was deleted (then returns false and does not hold it).</summary>
    public bool TryEnterLive()
    {
        Acquire();
        if (!_removed)
        {
            return true;
        }

        Exit();
        return false;
    }

    // Makes the sequence odd, waiting while another writer holds it. The uncontended case (one
    // compare-and-swap) inlines into every write; waiting is out of line.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Acquire()
    {
        var sequence = Volatile.Read(ref _sequence);
        if ((sequence & 1) != 0 || Interlocked.CompareExchange(ref _sequence, sequence + 1, sequence) != sequence)
        {
            AcquireContended();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AcquireContended()
    {
        var spin = default(SpinWait);
        while (true)
        {
            // Writers hold a cell for one copy of one value, unless they were preempted; SpinWait
            // yields the CPU after a few spins.
            spin.SpinOnce();
            var sequence = Volatile.Read(ref _sequence);
            if ((sequence & 1) == 0 && Interlocked.CompareExchange(ref _sequence, sequence + 1, sequence) == sequence)
            {
                return;
            }
        }
    }

    /// <summary>Releases the cell; every change made while holding it becomes visible to readers at once.</summary>
    public void Exit()
    {
        _holder = 0;
        Volatile.Write(ref _sequence, _sequence + 1);
    }

    /// <summary>Marks the held cell as deleted: it is never written again.</summary>
    public void MarkRemoved() => _removed = true;

    /// <summary>Replaces the value (caller holds the cell).</summary>
    public void Write(ReadOnlySpan<byte> value, int minimumCapacity = 0)
    {
        if (NeedsNewBuffer(value.Length))
        {
            Replace(new byte[_keyLength + Math.Max(value.Length, minimumCapacity)]);
        }

        value.CopyTo(_buffer.AsSpan(_keyLength));
        _length = value.Length;
    }

    /// <summary>Appends to the value (caller holds the cell); grows geometrically so repeated appends stay linear.</summary>
    public void Append(ReadOnlySpan<byte> suffix)
    {
        var total = (long)_length + suffix.Length;
        if (_keyLength + total > Array.MaxLength)
        {
            throw new InvalidOperationException("value would exceed the maximum array length");
        }

        if (_keyLength + total > _buffer.Length)
        {
            var grown = new byte[(int)Math.Min(Array.MaxLength, Math.Max(_keyLength + total, 2L * _buffer.Length))];
            _buffer.AsSpan(0, _keyLength + _length).CopyTo(grown);
            Replace(grown);
        }

        suffix.CopyTo(_buffer.AsSpan(_keyLength + _length));
        _length = (int)total;
    }

    /// <summary>Writes the value as a length-prefixed blob without taking the lock.</summary>
    public void WriteBlobTo(IBufferWriter<byte> reply)
    {
        var spin = default(SpinWait);
        while (true)
        {
            var sequence = Volatile.Read(ref _sequence);
            if ((sequence & 1) == 0)
            {
                var buffer = Volatile.Read(ref _buffer);
                var length = Volatile.Read(ref _length);
                // A length from a newer write than the buffer is a torn read: retry, never index past it.
                if ((uint)length <= (uint)(buffer.Length - _keyLength))
                {
                    var destination = reply.GetSpan(sizeof(ulong) + length);
                    buffer.AsSpan(_keyLength, length).CopyTo(destination[sizeof(ulong)..]);
                    // No load of the copy may move past the second sequence read. A read barrier is
                    // all that takes: on x64 it only stops the compiler (the CPU keeps loads in
                    // order), where a full fence also drained the store buffer, ~30 cycles a GET.
                    Volatile.ReadBarrier();
                    if (Volatile.Read(ref _sequence) == sequence)
                    {
                        BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)length);
                        reply.Advance(sizeof(ulong) + length);
                        return;
                    }
                }
            }

            // A writer holds the cell (for one copy, or one multi-key step, so it is short),
            // unless it was preempted; SpinWait yields the CPU after a few spins.
            spin.SpinOnce();
        }
    }

    /// <summary>A copy of the value without taking the lock (tests and tools; not on the request path).</summary>
    public byte[] Copy()
    {
        // Reuses the one seqlock read above rather than a second copy of its memory-ordering logic.
        var blob = new ArrayBufferWriter<byte>();
        WriteBlobTo(blob);
        return blob.WrittenSpan[sizeof(ulong)..].ToArray();
    }

    private bool NeedsNewBuffer(int length)
    {
        var capacity = _buffer.Length - _keyLength;
        return length > capacity || (capacity > ShrinkThreshold && length < capacity / 4);
    }

    // Caller holds the cell. The key is copied first and the buffer published with a release store,
    // so a lock-free reader that sees the new buffer also sees the key at its front.
    private void Replace(byte[] buffer)
    {
        _buffer.AsSpan(0, _keyLength).CopyTo(buffer);
        Volatile.Write(ref _buffer, buffer);
    }
}
