using System.Buffers;
using System.Buffers.Binary;

namespace TcpStore.Core;

/// <summary>
/// One stored value: a buffer that writes reuse in place, the length in use, and a sequence
/// number that lets lock-free readers detect a concurrent write and retry (a seqlock).
/// </summary>
/// <remarks>
/// Writers run only under the lock of the key's shard, so there is at most one at a time. A write makes
/// the sequence odd (with a full fence, so no store of the new bytes can become visible before it),
/// changes the buffer, then makes it even again (a release store, so every new byte is visible
/// before it). A reader copies while the sequence is even and unchanged across the copy; the copy is
/// then exactly the value at the moment it read the first sequence number, which is where such a
/// GET is linearized. A reader that overlaps a write may copy torn bytes, but it discards them.
/// Overwrites of the same or smaller size, and counters, therefore allocate nothing.
/// </remarks>
internal sealed class ValueCell
{
    // Below this a value never shrinks its buffer; above it a value that needs under a quarter
    // of its buffer gets a right-sized one, so one huge value does not pin its memory forever.
    private const int ShrinkThreshold = 1024;

    private byte[] _buffer;
    private int _length;
    private int _sequence;

    public ValueCell(ReadOnlySpan<byte> value, int minimumCapacity = 0)
    {
        _buffer = new byte[Math.Max(value.Length, minimumCapacity)];
        value.CopyTo(_buffer);
        _length = value.Length;
    }

    /// <summary>The value. Only under the key's shard lock, where no write can overlap.</summary>
    public ReadOnlySpan<byte> Locked => _buffer.AsSpan(0, _length);

    /// <summary>Replaces the value (caller holds the key's shard lock).</summary>
    public void Write(ReadOnlySpan<byte> value, int minimumCapacity = 0)
    {
        var fresh = NeedsNewBuffer(value.Length) ? new byte[Math.Max(value.Length, minimumCapacity)] : null;
        BeginWrite();
        if (fresh is not null)
        {
            _buffer = fresh;
        }

        value.CopyTo(_buffer);
        _length = value.Length;
        EndWrite();
    }

    /// <summary>Appends to the value (caller holds the key's shard lock); grows geometrically so repeated appends stay linear.</summary>
    public void Append(ReadOnlySpan<byte> suffix)
    {
        var total = (long)_length + suffix.Length;
        if (total > Array.MaxLength)
        {
            throw new InvalidOperationException("value would exceed the maximum array length");
        }

        byte[]? grown = null;
        if (total > _buffer.Length)
        {
            grown = new byte[(int)Math.Min(Array.MaxLength, Math.Max(total, 2L * _buffer.Length))];
            _buffer.AsSpan(0, _length).CopyTo(grown);
        }

        BeginWrite();
        if (grown is not null)
        {
            _buffer = grown;
        }

        suffix.CopyTo(_buffer.AsSpan(_length));
        _length = (int)total;
        EndWrite();
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

            // A writer is between its two sequence updates (it holds the lock, so it is short),
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

    // Interlocked: a full fence, so none of the following stores is visible before the odd number.
    private void BeginWrite() => Interlocked.Increment(ref _sequence);

    // Release store: every store of the write is visible before the even number.
    private void EndWrite() => Volatile.Write(ref _sequence, _sequence + 1);
}
