using System.Buffers;
using System.Collections.Concurrent;
using TcpStore.Codec;
using TcpStore.Core.Inspection;

namespace TcpStore.Core;

/// <summary>
/// The store: a key-value map of opaque byte strings, a separate namespace of FIFO queues, and the
/// wait registry. No sockets here.
/// </summary>
/// <remarks>
/// <para>
/// Concurrency design. Every mutation, every multi-key read and every wait registration runs under
/// one write lock, so each operation is a single atomic step and a wake-up is decided in the same
/// step as the write that causes it (the c10d servers get this from being single-threaded).
/// </para>
/// <para>
/// Single-key GET, the hottest read, takes no lock. The map is a <see cref="ConcurrentDictionary{TKey,TValue}"/>
/// (lock-free lookups) from key to a <see cref="ValueCell"/>. A write to an existing key reuses the
/// cell's buffer in place when the new value fits, so SET, ADD, APPEND and COMPARE_SET allocate
/// nothing in steady state; the cell's sequence number (a seqlock) makes a lock-free reader that
/// overlapped such a write retry. A GET is linearized when it reads an even sequence number that is
/// still the same after its copy: the bytes it returns are the value at that instant. A GET that
/// looked the cell up just before a DELETE returns the value the key had then (linearized before the
/// DELETE); a removed cell is never written again, because every write looks the key up afresh
/// under the lock, and a re-created key gets a new cell.
/// </para>
/// <para>
/// Why not simply take the lock in GET: measured with BenchmarkDotNet (docs/performance.md), the
/// seqlock read costs about the same as an uncontended lock, but the lock would serialise GETs
/// from different event-loop threads against each other and against writers, whereas seqlock
/// readers never write shared memory and only ever wait for a writer's copy of one value. A
/// finer-grained lock per shard would buy nothing measurable here: the server runs one event loop
/// per core (two on the target machine), the critical sections are a few hundred nanoseconds, and
/// multi-key operations (CHECK, WAIT, MULTI_SET) would then need to take several shard locks in
/// order, which costs more than it saves.
/// </para>
/// </remarks>
public sealed class KeyValueStore
{
    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<byte[], ValueCell> _map = new(ByteKeyComparer.Instance);
    private readonly ConcurrentDictionary<byte[], ValueCell>.AlternateLookup<ReadOnlySpan<byte>> _mapBySpan;
    private readonly Dictionary<byte[], Queue<byte[]>> _queues = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], Queue<byte[]>>.AlternateLookup<ReadOnlySpan<byte>> _queuesBySpan;
    private readonly WaitRegistry _waits = new();
    private int _keyCount;

    /// <summary>Creates an empty store.</summary>
    public KeyValueStore()
    {
        _mapBySpan = _map.GetAlternateLookup<ReadOnlySpan<byte>>();
        _queuesBySpan = _queues.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>
    /// Told of every key creation, update and deletion, under the write lock; null (the default)
    /// while nobody watches, so writes then pay one field read. Set by legacy WATCH_KEY.
    /// </summary>
    public IKeyChangeObserver? KeyObserver { get; set; }

    /// <summary>Number of keys in the key-value map (queues are not counted).</summary>
    public int KeyCount => Volatile.Read(ref _keyCount);

    /// <summary>Number of distinct keys that at least one connection is waiting for.</summary>
    public int AwaitedKeyCount
    {
        get
        {
            lock (_writeLock)
            {
                return _waits.KeyCount;
            }
        }
    }

    /// <summary>Returns a copy of a key's value, or null when missing. For tests and tools; the server uses <see cref="WriteValue"/>.</summary>
    public byte[]? Get(ReadOnlySpan<byte> key) => _mapBySpan.TryGetValue(key, out var cell) ? cell.Copy() : null;

    /// <summary>Writes a key's value as a length-prefixed blob; a missing key is written as an empty value. Lock-free.</summary>
    /// <returns>Whether the key was present.</returns>
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

    /// <summary>SET: stores the value and wakes every waiter on the key.</summary>
    public void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        lock (_writeLock)
        {
            Store(key, value);
            _waits.WakeAll(key);
        }
    }

    /// <summary>MULTI_SET: each pair as by SET, in order, as one atomic step.</summary>
    public void MultiSet(KeyList pairs)
    {
        lock (_writeLock)
        {
            foreach (var pair in pairs)
            {
                Store(pair.Key, pair.Value);
                _waits.WakeAll(pair.Key);
            }
        }
    }

    /// <summary>APPEND: concatenates onto the value (creating it) and wakes every waiter.</summary>
    public void Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> suffix)
    {
        lock (_writeLock)
        {
            if (_mapBySpan.TryGetValue(key, out var cell))
            {
                KeyObserver?.OnKeyChanged(KeyChange.Updated, key, cell.Locked, [.. cell.Locked, .. suffix]);
                cell.Append(suffix);
            }
            else
            {
                Store(key, suffix);
            }

            _waits.WakeAll(key);
        }
    }

    /// <summary>ADD: parses the current value like C stoll, adds (wrapping), stores ASCII decimal, wakes every waiter.</summary>
    /// <returns>False, with nothing changed, when the current value is not a number.</returns>
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

    /// <summary>COMPARE_SET: writes the reply blob (desired on success, else the current value, or expected when missing).</summary>
    public void CompareSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired, IBufferWriter<byte> reply)
    {
        lock (_writeLock)
        {
            // Waiters are woken before the reply is written, as libuv does: a connection that pipelined
            // a WAIT and then this COMPARE_SET gets its STOP_WAITING first.
            if (_mapBySpan.TryGetValue(key, out var current))
            {
                if (current.Locked.SequenceEqual(expected))
                {
                    KeyObserver?.OnKeyChanged(KeyChange.Updated, key, current.Locked, desired);
                    current.Write(desired);
                    _waits.WakeAll(key);
                    reply.WriteBlob(desired);
                }
                else
                {
                    // No waiter can be registered on a present key, so there is nobody to wake.
                    reply.WriteBlob(current.Locked);
                }

                return;
            }

            if (expected.IsEmpty)
            {
                Store(key, desired);
                _waits.WakeAll(key);
                reply.WriteBlob(desired);
            }
            else
            {
                reply.WriteBlob(expected);
            }
        }
    }

    /// <summary>DELETE_KEY: removes the key from the map (queues untouched); waiters stay registered.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        lock (_writeLock)
        {
            if (!_mapBySpan.TryRemove(key, out _, out var removed))
            {
                return false;
            }

            KeyObserver?.OnKeyChanged(KeyChange.Deleted, key, removed.Locked, default);
            _keyCount--;
            return true;
        }
    }

    /// <summary>CHECK: whether every key is a map key or a non-empty queue.</summary>
    public bool Check(KeyList keys)
    {
        lock (_writeLock)
        {
            foreach (var entry in keys)
            {
                if (!IsReady(entry.Key))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// WAIT: true when every key is ready now. Otherwise registers <paramref name="waiter"/> on each
    /// key that is not ready (replacing any earlier pending wait of that waiter) and returns false;
    /// <see cref="Waiter.OnWaitSatisfied"/> fires later.
    /// </summary>
    public bool WaitOrRegister(KeyList keys, Waiter waiter)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        lock (_writeLock)
        {
            if (waiter.Registrations is not null || waiter.Remaining > 0)
            {
                _waits.Cancel(waiter);
            }

            if (waiter.Retired)
            {
                // Its connection closed while this request was in flight: nobody can be told.
                return false;
            }

            foreach (var entry in keys)
            {
                if (!IsReady(entry.Key))
                {
                    _waits.Register(waiter, entry.Key);
                }
            }

            return waiter.Remaining == 0;
        }
    }

    /// <summary>CANCEL_WAIT or disconnect: removes every registration of the waiter.</summary>
    /// <returns>True when a wait was pending.</returns>
    public bool CancelWait(Waiter waiter)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        lock (_writeLock)
        {
            return _waits.Cancel(waiter);
        }
    }

    /// <summary>The waiter's connection is gone: removes its registrations and refuses any later ones.</summary>
    public void Retire(Waiter waiter)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        lock (_writeLock)
        {
            waiter.Retired = true;
            _waits.Cancel(waiter);
        }
    }

    /// <summary>MULTI_GET: one blob per key, in order; missing keys as empty values.</summary>
    public void MultiGet(KeyList keys, IBufferWriter<byte> reply)
    {
        lock (_writeLock)
        {
            foreach (var entry in keys)
            {
                WriteValue(entry.Key, reply);
            }
        }
    }

    /// <summary>LIST_KEYS: the count then every map key, in unspecified order.</summary>
    public void ListKeys(IBufferWriter<byte> reply)
    {
        lock (_writeLock)
        {
            reply.WriteInt64(_keyCount);
            foreach (var key in _map.Keys)
            {
                reply.WriteBlob(key);
            }
        }
    }

    /// <summary>Copies every map key (for tests and tools).</summary>
    public List<byte[]> Keys()
    {
        lock (_writeLock)
        {
            return [.. _map.Keys];
        }
    }

    /// <summary>QUEUE_PUSH: appends to the named FIFO and wakes one waiter on the name.</summary>
    public void QueuePush(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var stored = value.ToArray();
        lock (_writeLock)
        {
            if (!_queuesBySpan.TryGetValue(name, out var queue))
            {
                queue = new Queue<byte[]>();
                _queues.Add(name.ToArray(), queue);
            }

            queue.Enqueue(stored);
            _waits.WakeOne(name);
        }
    }

    /// <summary>QUEUE_POP: writes the length before the pop and, when non-zero, the popped value.</summary>
    public void QueuePop(ReadOnlySpan<byte> name, IBufferWriter<byte> reply)
    {
        lock (_writeLock)
        {
            if (!_queuesBySpan.TryGetValue(name, out var queue) || queue.Count == 0)
            {
                reply.WriteInt64(0);
                return;
            }

            reply.WriteInt64(queue.Count);
            reply.WriteBlob(queue.Dequeue());
            if (queue.Count == 0)
            {
                // Empty and missing queues are indistinguishable on the wire; dropping the entry
                // keeps memory bounded when clients use many one-shot queue names.
                _queuesBySpan.Remove(name);
            }
        }
    }

    /// <summary>QUEUE_LEN: the FIFO length, 0 when the queue does not exist.</summary>
    public long QueueLength(ReadOnlySpan<byte> name)
    {
        lock (_writeLock)
        {
            return _queuesBySpan.TryGetValue(name, out var queue) ? queue.Count : 0;
        }
    }

    /// <summary>The keys that connections are waiting for, with the number of waiters on each.</summary>
    public List<KeyValuePair<byte[], int>> AwaitedKeys()
    {
        lock (_writeLock)
        {
            return _waits.Snapshot();
        }
    }

    /// <summary>Every pending wait registration: which waiter awaits which key, since when (for operators' tools).</summary>
    public List<WaitEntry> WaitRegistrations()
    {
        var result = new List<WaitEntry>();
        lock (_writeLock)
        {
            _waits.CopyRegistrations(result);
        }

        return result;
    }

    private bool IsReady(ReadOnlySpan<byte> key) =>
        _mapBySpan.ContainsKey(key) || (_queues.Count != 0 && _queuesBySpan.TryGetValue(key, out var queue) && queue.Count > 0);

    // Caller holds the write lock. An existing key's cell is overwritten in place (no allocation
    // when the value fits); a new key gets its own copy of the key and a new cell.
    private void Store(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int minimumCapacity = 0)
    {
        if (_mapBySpan.TryGetValue(key, out var cell))
        {
            KeyObserver?.OnKeyChanged(KeyChange.Updated, key, cell.Locked, value);
            cell.Write(value, minimumCapacity);
            return;
        }

        KeyObserver?.OnKeyChanged(KeyChange.Created, key, default, value);
        _map[key.ToArray()] = new ValueCell(value, minimumCapacity);
        _keyCount++;
    }
}
