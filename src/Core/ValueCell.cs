using System.Buffers;
using System.Buffers.Binary;

namespace TcpStore.Core;

/// <summary>
/// One stored value: a buffer that writes reuse in place, the length in use, and a sequence
/// number that both serialises writers and lets lock-free readers detect a concurrent write and
/// retry (a seqlock).
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
/// </remarks>
internal sealed class ValueCell
{
    // Below this a value never shrinks its buffer; above it a value that needs under a quarter
    // of its buffer gets a right-sized one, so one huge value does not pin its memory forever.
    private const int ShrinkThreshold = 1024;

    private byte[] _buffer;
    private int _length;
    private int _sequence;

    // The managed thread id of the writer holding the cell (0 when free): lets a multi-key step
    // that names a key twice see that it already holds the cell.
    private int _holder;
    private bool _removed;

    /// <summary>A new cell holding a copy of <paramref name="value"/>; when <paramref name="held"/>, already held by the calling thread.</summary>
    public ValueCell(ReadOnlySpan<byte> value, int minimumCapacity = 0, bool held = false)
    {
        _buffer = new byte[Math.Max(value.Length, minimumCapacity)];
        value.CopyTo(_buffer);
        _length = value.Length;
        if (held)
        {
            _sequence = 1;
            _holder = Environment.CurrentManagedThreadId;
        }
    }

    /// <summary>The value. Only while holding the cell, where no write can overlap.</summary>
    public ReadOnlySpan<byte> Locked => _buffer.AsSpan(0, _length);

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

    /// <summary>Takes the cell for writing, waiting for another writer to finish. Not reentrant.</summary>
    public void Enter()
    {
        var spin = default(SpinWait);
        while (true)
        {
            var sequence = Volatile.Read(ref _sequence);
            if ((sequence & 1) == 0 && Interlocked.CompareExchange(ref _sequence, sequence + 1, sequence) == sequence)
            {
                _holder = Environment.CurrentManagedThreadId;
                return;
            }

            // Writers hold a cell for one copy of one value, unless they were preempted; SpinWait
            // yields the CPU after a few spins.
            spin.SpinOnce();
        }
    }

    /// <summary>Takes the cell unless it was deleted (then returns false and does not hold it).</summary>
    public bool TryEnterLive()
    {
        Enter();
        if (!_removed)
        {
            return true;
        }

        Exit();
        return false;
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
            _buffer = new byte[Math.Max(value.Length, minimumCapacity)];
        }

        value.CopyTo(_buffer);
        _length = value.Length;
    }

    /// <summary>Appends to the value (caller holds the cell); grows geometrically so repeated appends stay linear.</summary>
    public void Append(ReadOnlySpan<byte> suffix)
    {
        var total = (long)_length + suffix.Length;
        if (total > Array.MaxLength)
        {
            throw new InvalidOperationException("value would exceed the maximum array length");
        }

        if (total > _buffer.Length)
        {
            var grown = new byte[(int)Math.Min(Array.MaxLength, Math.Max(total, 2L * _buffer.Length))];
            _buffer.AsSpan(0, _length).CopyTo(grown);
            _buffer = grown;
        }

        suffix.CopyTo(_buffer.AsSpan(_length));
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
                if ((uint)length <= (uint)buffer.Length)
                {
                    var destination = reply.GetSpan(sizeof(ulong) + length);
                    buffer.AsSpan(0, length).CopyTo(destination[sizeof(ulong)..]);
                    // No load of the copy may move past the second sequence read.
                    Interlocked.MemoryBarrier();
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

    private bool NeedsNewBuffer(int length) =>
        length > _buffer.Length || (_buffer.Length > ShrinkThreshold && length < _buffer.Length / 4);
}
