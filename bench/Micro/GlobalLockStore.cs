using System.Buffers;
using System.Collections.Concurrent;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>
/// The store's previous concurrency design, kept only as the baseline of <see cref="ContentionBenchmarks"/>:
/// every write and its wake-up run under one store-wide lock; GET reads the same lock-free map
/// with the seqlock cells. It is <see cref="KeyValueStore"/> as it was before sharding, cut down to the
/// operations the benchmark measures (GET, SET, ADD), with the same code in them; the only change is
/// that a write now takes its cell explicitly (<see cref="ValueCell.Enter"/>, one compare-and-swap,
/// where the cell used to make its sequence odd itself with one atomic increment).
/// </summary>
public sealed class GlobalLockStore
{
    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<byte[], ValueCell> _map = new(ByteKeyComparer.Instance);
    private readonly ConcurrentDictionary<byte[], ValueCell>.AlternateLookup<ReadOnlySpan<byte>> _mapBySpan;
    private readonly WaitRegistry _waits = new();
    private int _keyCount;

    /// <summary>Creates an empty store.</summary>
    public GlobalLockStore()
    {
        _mapBySpan = _map.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Number of keys.</summary>
    public int KeyCount => Volatile.Read(ref _keyCount);

    /// <summary>GET: the value as a length-prefixed blob, lock-free.</summary>
    public bool WriteValue(ReadOnlySpan<byte> key, IBufferWriter<byte> reply)
    {
        if (_mapBySpan.TryGetValue(key, out var cell))
        {
            cell.WriteBlobTo(reply);
            return true;
        }

        reply.WriteBlob(default);
        return false;
    }

    /// <summary>SET under the global lock.</summary>
    public void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        lock (_writeLock)
        {
            Store(key, value);
            _waits.WakeAll(key);
        }
    }

    /// <summary>ADD under the global lock.</summary>
    public bool TryAdd(ReadOnlySpan<byte> key, long delta, out long result)
    {
        Span<byte> text = stackalloc byte[DecimalCounter.MaxLength];
        lock (_writeLock)
        {
            if (_mapBySpan.TryGetValue(key, out var current))
            {
                if (!DecimalCounter.TryParse(current.Locked, out var parsed))
                {
                    result = 0;
                    return false;
                }

                result = unchecked(parsed + delta);
            }
            else
            {
                result = delta;
            }

            var length = DecimalCounter.Format(result, text);
            Store(key, text[..length], DecimalCounter.MaxLength);
            _waits.WakeAll(key);
            return true;
        }
    }

    private void Store(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int minimumCapacity = 0)
    {
        if (_mapBySpan.TryGetValue(key, out var cell))
        {
            cell.Enter();
            cell.Write(value, minimumCapacity);
            cell.Exit();
            return;
        }

        _map[key.ToArray()] = new ValueCell(key, value, minimumCapacity);
        _keyCount++;
    }
}
