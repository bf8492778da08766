using System.Buffers;
using System.Numerics;
using TcpStore.Codec;
using TcpStore.Core.Inspection;

namespace TcpStore.Core;

/// <summary>
/// The store: a key-value map of opaque byte strings, a separate namespace of FIFO queues, and the
/// wait registry. No sockets here.
/// </summary>
/// <remarks>
/// <para>
/// Concurrency design: a lock-free map of per-key cells, and sharded locks for everything that
/// changes which keys exist or spans keys. Keys are spread over a power-of-two number of shards by
/// the top bits of their (per-process seeded) hash. Each shard has a lock, the queues named by its
/// keys and the wait lists of its keys.
/// </para>
/// <para>
/// Single-key writes of a key that exists (SET, ADD, APPEND, COMPARE_SET: the steady state of every
/// job) take no shard lock at all, only the key's <see cref="ValueCell"/>, whose sequence number is
/// both a seqlock for readers and the writer lock: two threads writing different keys share no
/// written memory. They need no wake-up: nobody waits for a key that is present, because a WAIT
/// registers only missing keys, under the shard lock, and a key becomes present only under that
/// same lock, which wakes its waiters in the same step. Creating or deleting a key, queue
/// operations and a write that finds its key missing (or deleted under it) take the key's shard
/// lock. CHECK, WAIT, MULTI_GET and MULTI_SET take the locks of the shards of all their keys, in
/// ascending shard order (so two of them can never deadlock), and run as one atomic step: the
/// shards freeze which of their keys exist, and MULTI_SET and MULTI_GET also hold every cell they
/// touch, so neither a lock-free GET nor a fast-path write can see a MULTI_SET half done or change a
/// value under a MULTI_GET. A WAIT holds all its shards while it checks and registers, so a write
/// that creates one of its keys cannot fall between its check and its registration.
/// Operations on the whole store (LIST_KEYS, the wait diagnostics, a connection's retirement) take
/// every shard. <see cref="Waiter"/> documents how one WAIT across shards is counted.
/// </para>
/// <para>
/// Single-key GET, the hottest read, takes no lock. Each shard's keys are a <see cref="KeyTable"/>,
/// an open-addressing table that its shard's lock serialises writers of and that readers probe
/// without any lock; a lookup hashes the key once (top bits: shard, bottom bits: slot) and reads
/// the slot, the cell and the cell's buffer, which holds the key and the value. A write to an existing key
/// reuses the cell's buffer in place when the new value fits, so SET, ADD, APPEND and COMPARE_SET
/// allocate nothing in steady state; a lock-free reader that overlapped a write retries. A GET is
/// linearized when it reads an even sequence number that is still the same after its copy: the bytes
/// it returns are the value at that instant. A GET that looked the cell up just before a DELETE
/// returns the value the key had then (linearized before the DELETE); a deleted cell is marked while
/// held and never written again, and a re-created key gets a new cell. GETNUMKEYS reads a counter
/// that creates and deletes update atomically, as before.
/// </para>
/// <para>
/// Why, measured (docs/performance.md, "Sharded store"): with the earlier single write lock, a
/// second thread writing other keys added no write throughput (the lock's cache line moved between
/// the cores on every write). Shard locks alone would not fix that for the common case either: each
/// event loop serves many keys spread over all shards, so both cores would keep taking the same
/// shard locks. Writes of existing keys therefore touch only their own cell, and
/// <c>ContentionBenchmarks</c> in bench/Micro compares 1 and 2 threads against the old design in one
/// run. The shard count only matters for the locked paths (creating and deleting keys, queues,
/// waits, multi-key steps); <see cref="DefaultShardCount"/> is 16 from the <c>Churn</c> case of that
/// benchmark (see docs/performance.md): two loops then meet on a shard 1/16 of the time, and
/// whole-store operations take 16 uncontended locks (about 20 ns each), not 64.
/// </para>
/// </remarks>
public sealed class KeyValueStore
{
    /// <summary>The shard count of <see cref="KeyValueStore()"/>; see the remarks on the class for how it was chosen.</summary>
    public const int DefaultShardCount = 16;

    /// <summary>The most shards a store can have: shard sets are bit masks in one <see cref="ulong"/>.</summary>
    public const int MaxShardCount = 64;

    private readonly StoreShard[] _shards;
    private readonly int _shardBits;
    private readonly ulong _allShards;

    // The keys of shard i, indexed like _shards; a separate array so a lookup goes from here to the
    // table's slots without touching the shard object.
    private readonly KeyTable[] _tables;
    private int _keyCount;

    /// <summary>Creates an empty store with <see cref="DefaultShardCount"/> shards.</summary>
    public KeyValueStore()
        : this(DefaultShardCount)
    {
    }

    /// <summary>Creates an empty store.</summary>
    /// <param name="shardCount">Number of shards: a power of two from 1 to <see cref="MaxShardCount"/>.</param>
    public KeyValueStore(int shardCount)
    {
        if (shardCount is < 1 or > MaxShardCount || !BitOperations.IsPow2(shardCount))
        {
            throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount, $"must be a power of two from 1 to {MaxShardCount}");
        }

        _shardBits = BitOperations.Log2((uint)shardCount);
        _allShards = shardCount == 64 ? ulong.MaxValue : (1UL << shardCount) - 1;
        _shards = new StoreShard[shardCount];
        _tables = new KeyTable[shardCount];
        for (var i = 0; i < shardCount; i++)
        {
            _shards[i] = new StoreShard();
            _tables[i] = new KeyTable();
        }
    }

    /// <summary>Number of shards the keys are spread over.</summary>
    public int ShardCount => _shards.Length;

    /// <summary>
    /// Told of every key creation, update and deletion, under the lock that orders writes of that key
    /// (its cell, or its shard); null (the default) while nobody watches, so writes then pay one field
    /// read. Set by legacy WATCH_KEY.
    /// </summary>
    public IKeyChangeObserver? KeyObserver { get; set; }

    /// <summary>Number of keys in the key-value map (queues are not counted).</summary>
    public int KeyCount => Volatile.Read(ref _keyCount);

    /// <summary>Number of distinct keys that at least one connection is waiting for.</summary>
    public int AwaitedKeyCount
    {
        get
        {
            EnterShards(_allShards);
            try
            {
                var count = 0;
                foreach (var shard in _shards)
                {
                    count += shard.Waits.KeyCount;
                }

                return count;
            }
            finally
            {
                ExitShards(_allShards);
            }
        }
    }

    /// <summary>Returns a copy of a key's value, or null when missing. For tests and tools; the server uses <see cref="WriteValue"/>.</summary>
    public byte[]? Get(ReadOnlySpan<byte> key) => Find(key)?.Copy();

    /// <summary>Writes a key's value as a length-prefixed blob; a missing key is written as an empty value. Lock-free.</summary>
    /// <returns>Whether the key was present.</returns>
    public bool WriteValue(ReadOnlySpan<byte> key, IBufferWriter<byte> reply)
    {
        if (Find(key) is { } cell)
        {
            cell.WriteBlobTo(reply);
            return true;
        }

        reply.WriteBlob(default);
        return false;
    }

    /// <summary>SET: stores the value and wakes every waiter on the key.</summary>
    /// <returns>
    /// The key's hash (<see cref="ByteKeyComparer.GetHashCode(ReadOnlySpan{byte})"/>), which the
    /// store computed anyway: a caller that needs it (the per-connection rank-key record) saves a
    /// second pass over the key.
    /// </returns>
    public int Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (TryEnterLiveCell(key, out var cell, out var hash))
        {
            try
            {
                KeyObserver?.OnKeyChanged(KeyChange.Updated, key, cell.Locked, value);
                cell.Write(value);
            }
            finally
            {
                cell.Exit();
            }

            return hash;
        }

        var shard = _shards[ShardOf(hash)];
        lock (shard.Gate)
        {
            Store(key, value);
            shard.Waits.WakeAll(key);
        }

        return hash;
    }

    /// <summary>MULTI_SET: each pair as by SET, in order, as one atomic step.</summary>
    /// <remarks>
    /// The shards freeze which keys exist; holding every cell first (missing keys are created already
    /// held) keeps lock-free GETs and fast-path writes out until every value is in place, so nobody
    /// can see the step half done.
    /// </remarks>
    public void MultiSet(KeyList pairs)
    {
        // Only while a legacy client watches: which keys this step creates, for the notifications.
        var fresh = KeyObserver is null ? null : new HashSet<byte[]>(ByteKeyComparer.Instance);
        var shards = ShardsOf(pairs);
        EnterShards(shards);
        try
        {
            foreach (var pair in pairs)
            {
                if (Find(pair.Key) is { } cell)
                {
                    if (!cell.IsHeldByCurrentThread)
                    {
                        cell.Enter();
                    }
                }
                else
                {
                    fresh?.Add(pair.Key.ToArray());
                    AddCell(new ValueCell(pair.Key, pair.Value, held: true));
                }
            }

            foreach (var pair in pairs)
            {
                var target = Find(pair.Key)!;
                if (fresh is not null)
                {
                    // As if each pair were a SET in turn: a key's first write in this step creates it.
                    var created = fresh.GetAlternateLookup<ReadOnlySpan<byte>>().Remove(pair.Key);
                    KeyObserver?.OnKeyChanged(created ? KeyChange.Created : KeyChange.Updated, pair.Key, created ? default : target.Locked, pair.Value);
                }

                target.Write(pair.Value);
                ShardFor(pair.Key).Waits.WakeAll(pair.Key);
            }
        }
        finally
        {
            ExitCells(pairs);
            ExitShards(shards);
        }
    }

    /// <summary>APPEND: concatenates onto the value (creating it) and wakes every waiter.</summary>
    public void Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> suffix)
    {
        var live = TryEnterLiveCell(key, out var cell, out _);
        var shard = ShardFor(key);
        if (!live)
        {
            shard.Gate.Enter();
            cell = Find(key)!;
            if (cell is null)
            {
                try
                {
                    Create(key, suffix);
                    shard.Waits.WakeAll(key);
                    return;
                }
                finally
                {
                    shard.Gate.Exit();
                }
            }

            cell.Enter();
        }

        try
        {
            if (KeyObserver is { } observer)
            {
                observer.OnKeyChanged(KeyChange.Updated, key, cell.Locked, [.. cell.Locked, .. suffix]);
            }

            cell.Append(suffix);
        }
        finally
        {
            cell.Exit();
            if (!live)
            {
                shard.Gate.Exit();
            }
        }
    }

    /// <summary>ADD: parses the current value like C stoll, adds (wrapping), stores ASCII decimal, wakes every waiter.</summary>
    /// <returns>False, with nothing changed, when the current value is not a number.</returns>
    public bool TryAdd(ReadOnlySpan<byte> key, long delta, out long result)
    {
        if (TryEnterLiveCell(key, out var cell, out _))
        {
            try
            {
                return TryAddTo(key, cell, delta, out result);
            }
            finally
            {
                cell.Exit();
            }
        }

        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            cell = Find(key)!;
            if (cell is not null)
            {
                cell.Enter();
                try
                {
                    return TryAddTo(key, cell, delta, out result);
                }
                finally
                {
                    cell.Exit();
                }
            }

            result = delta;
            Span<byte> text = stackalloc byte[DecimalCounter.MaxLength];
            var length = DecimalCounter.Format(result, text);
            Create(key, text[..length], DecimalCounter.MaxLength);
            shard.Waits.WakeAll(key);
            return true;
        }
    }

    /// <summary>COMPARE_SET: writes the reply blob (desired on success, else the current value, or expected when missing).</summary>
    public void CompareSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired, IBufferWriter<byte> reply)
    {
        if (TryEnterLiveCell(key, out var current, out _))
        {
            try
            {
                CompareSetIn(key, current, expected, desired, reply);
            }
            finally
            {
                current.Exit();
            }

            return;
        }

        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            current = Find(key)!;
            if (current is not null)
            {
                current.Enter();
                try
                {
                    CompareSetIn(key, current, expected, desired, reply);
                }
                finally
                {
                    current.Exit();
                }

                return;
            }

            // Waiters are woken before the reply is written, as libuv does: a connection that pipelined
            // a WAIT and then this COMPARE_SET gets its STOP_WAITING first.
            if (expected.IsEmpty)
            {
                Create(key, desired);
                shard.Waits.WakeAll(key);
                reply.WriteBlob(desired);
            }
            else
            {
                reply.WriteBlob(expected);
            }
        }
    }

    /// <summary>Every pending wait registration: which waiter awaits which key, since when (for operators' tools).</summary>
    public List<WaitEntry> WaitRegistrations()
    {
        var result = new List<WaitEntry>();
        EnterShards(_allShards);
        try
        {
            foreach (var shard in _shards)
            {
                shard.Waits.CopyRegistrations(result);
            }
        }
        finally
        {
            ExitShards(_allShards);
        }

        return result;
    }

    /// <summary>DELETE_KEY: removes the key from the map (queues untouched); waiters stay registered.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        var hash = ByteKeyComparer.HashOf(key);
        lock (_shards[ShardOf(hash)].Gate)
        {
            if (_tables[ShardOf(hash)].Find(key, hash) is not { } cell)
            {
                return false;
            }

            // Held while it leaves the map, so a fast-path writer that found it just before either
            // wrote first (linearized before the DELETE) or finds it removed and starts again.
            cell.Enter();
            KeyObserver?.OnKeyChanged(KeyChange.Deleted, key, cell.Locked, default);
            cell.MarkRemoved();
            _tables[ShardOf(hash)].Remove(hash, cell);
            cell.Exit();
            Interlocked.Decrement(ref _keyCount);
            return true;
        }
    }

    /// <summary>CHECK: whether every key is a map key or a non-empty queue.</summary>
    public bool Check(KeyList keys)
    {
        if (keys.Count == 1)
        {
            foreach (var entry in keys)
            {
                return Check(entry.Key);
            }
        }

        var shards = ShardsOf(keys);
        EnterShards(shards);
        try
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
        finally
        {
            ExitShards(shards);
        }
    }

    /// <summary>CHECK of one key: whether it is a map key or a non-empty queue.</summary>
    public bool Check(ReadOnlySpan<byte> key)
    {
        // A key that exists and is not held by a writer is ready without the shard lock: a plain
        // map read, linearized where the cell was seen free. A held cell (a multi-key step may be
        // half done) or a missing key (a queue may hold it, or a step may be inserting it) takes the
        // locked path, which orders the answer against those writes.
        var hash = ByteKeyComparer.HashOf(key);
        var index = ShardOf(hash);
        if (_tables[index].Find(key, hash) is { } cell && cell.IsSettled)
        {
            return true;
        }

        lock (_shards[index].Gate)
        {
            return IsReady(key);
        }
    }

    /// <summary>
    /// WAIT: true when every key is ready now. Otherwise registers <paramref name="waiter"/> on each
    /// key that is not ready (replacing any earlier pending wait of that waiter) and returns false;
    /// <see cref="Waiter.OnWaitSatisfied"/> fires later.
    /// </summary>
    /// <remarks>
    /// Checking and registering happen with the shards of every key held, the same locks the writes
    /// of those keys take: a SET cannot slip between the check of its key and the registration.
    /// </remarks>
    public bool WaitOrRegister(KeyList keys, Waiter waiter)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        var shards = EnterWaiterShards(waiter, ShardsOf(keys));
        try
        {
            if (waiter.Registrations is not null || waiter.Remaining > 0)
            {
                WaitRegistry.Cancel(waiter);
            }

            waiter.Shards = 0;
            if (waiter.Retired)
            {
                // Its connection closed while this request was in flight: nobody can be told.
                return false;
            }

            ulong registered = 0;
            foreach (var entry in keys)
            {
                if (!IsReady(entry.Key))
                {
                    var index = ShardIndex(entry.Key);
                    _shards[index].Waits.Register(waiter, entry.Key);
                    registered |= 1UL << index;
                }
            }

            waiter.Shards = registered;
            return waiter.Remaining == 0;
        }
        finally
        {
            ExitShards(shards);
        }
    }

    /// <summary>CANCEL_WAIT or disconnect: removes every registration of the waiter.</summary>
    /// <returns>True when a wait was pending.</returns>
    public bool CancelWait(Waiter waiter)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        var shards = EnterWaiterShards(waiter, 0);
        try
        {
            var wasWaiting = WaitRegistry.Cancel(waiter);
            waiter.Shards = 0;
            return wasWaiting;
        }
        finally
        {
            ExitShards(shards);
        }
    }

    /// <summary>The waiter's connection is gone: removes its registrations and refuses any later ones.</summary>
    /// <remarks>
    /// Takes every shard, not just the waiter's: this can run on another thread while the waiter's own
    /// WAIT is registering, and holding all shards orders the two whatever keys that WAIT names. It
    /// happens once per connection, so the few hundred nanoseconds do not matter.
    /// </remarks>
    public void Retire(Waiter waiter)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        EnterShards(_allShards);
        try
        {
            waiter.Retired = true;
            WaitRegistry.Cancel(waiter);
            waiter.Shards = 0;
        }
        finally
        {
            ExitShards(_allShards);
        }
    }

    /// <summary>MULTI_GET: one blob per key, in order; missing keys as empty values.</summary>
    public void MultiGet(KeyList keys, IBufferWriter<byte> reply)
    {
        // The shards freeze which keys exist and the held cells their values, so the reply is one
        // snapshot even against fast-path writes of single keys, which take no shard lock.
        var shards = ShardsOf(keys);
        EnterShards(shards);
        try
        {
            foreach (var entry in keys)
            {
                if (Find(entry.Key) is { } cell && !cell.IsHeldByCurrentThread)
                {
                    cell.Enter();
                }
            }

            foreach (var entry in keys)
            {
                reply.WriteBlob(Find(entry.Key) is { } cell ? cell.Locked : default);
            }
        }
        finally
        {
            ExitCells(keys);
            ExitShards(shards);
        }
    }

    /// <summary>LIST_KEYS: the count then every map key, in unspecified order.</summary>
    public void ListKeys(IBufferWriter<byte> reply)
    {
        EnterShards(_allShards);
        try
        {
            reply.WriteInt64(_keyCount);
            foreach (var table in _tables)
            {
                foreach (var cell in table.Cells())
                {
                    reply.WriteBlob(cell.Key);
                }
            }
        }
        finally
        {
            ExitShards(_allShards);
        }
    }

    /// <summary>Copies every map key (for tests and tools).</summary>
    public List<byte[]> Keys()
    {
        EnterShards(_allShards);
        try
        {
            var keys = new List<byte[]>(_keyCount);
            foreach (var table in _tables)
            {
                foreach (var cell in table.Cells())
                {
                    keys.Add(cell.Key.ToArray());
                }
            }

            return keys;
        }
        finally
        {
            ExitShards(_allShards);
        }
    }

    /// <summary>QUEUE_PUSH: appends to the named FIFO and wakes one waiter on the name.</summary>
    public void QueuePush(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var stored = value.ToArray();
        var shard = ShardFor(name);
        lock (shard.Gate)
        {
            if (!shard.QueuesBySpan.TryGetValue(name, out var queue))
            {
                queue = new Queue<byte[]>();
                shard.Queues.Add(name.ToArray(), queue);
            }

            queue.Enqueue(stored);
            shard.Waits.WakeOne(name);
        }
    }

    /// <summary>QUEUE_POP: writes the length before the pop and, when non-zero, the popped value.</summary>
    public void QueuePop(ReadOnlySpan<byte> name, IBufferWriter<byte> reply)
    {
        var shard = ShardFor(name);
        lock (shard.Gate)
        {
            if (!shard.QueuesBySpan.TryGetValue(name, out var queue) || queue.Count == 0)
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
                shard.QueuesBySpan.Remove(name);
            }
        }
    }

    /// <summary>QUEUE_LEN: the FIFO length, 0 when the queue does not exist.</summary>
    public long QueueLength(ReadOnlySpan<byte> name)
    {
        var shard = ShardFor(name);
        lock (shard.Gate)
        {
            return shard.QueuesBySpan.TryGetValue(name, out var queue) ? queue.Count : 0;
        }
    }

    /// <summary>The keys that connections are waiting for, with the number of waiters on each.</summary>
    public List<KeyValuePair<byte[], int>> AwaitedKeys()
    {
        EnterShards(_allShards);
        try
        {
            var result = new List<KeyValuePair<byte[], int>>();
            foreach (var shard in _shards)
            {
                result.AddRange(shard.Waits.Snapshot());
            }

            return result;
        }
        finally
        {
            ExitShards(_allShards);
        }
    }

    /// <summary>The lock of shard <paramref name="index"/>: tests hold it to stop an operation that needs every shard at a known point.</summary>
    internal Lock ShardGate(int index) => _shards[index].Gate;

    /// <summary>The shard a key belongs to (tests use it to pick keys on different shards).</summary>
    internal int ShardIndex(ReadOnlySpan<byte> key)
    {
        return ShardOf(ByteKeyComparer.HashOf(key));
    }

    // The top bits of the key's hash (seeded per process, so no client can aim keys at one shard);
    // the shard's table picks a slot by the bottom bits of the same hash, so the two choices stay
    // independent. Widened to 64 bits so that one shard needs no special case.
    private int ShardOf(int hash) => (int)(((ulong)(uint)hash << _shardBits) >> 32);

    // The key's cell, or null. Lock-free; one hash for both the shard and the slot.
    private ValueCell? Find(ReadOnlySpan<byte> key)
    {
        var hash = ByteKeyComparer.HashOf(key);
        return _tables[ShardOf(hash)].Find(key, hash);
    }

    // Caller holds the shard of the new cell's key, which is not in the table.
    private void AddCell(ValueCell cell)
    {
        var hash = ByteKeyComparer.HashOf(cell.Key);
        _tables[ShardOf(hash)].Add(hash, cell);
        Interlocked.Increment(ref _keyCount);
    }

    private StoreShard ShardFor(ReadOnlySpan<byte> key) => _shards[ShardIndex(key)];

    private ulong ShardsOf(KeyList keys)
    {
        ulong shards = 0;
        foreach (var entry in keys)
        {
            shards |= 1UL << ShardIndex(entry.Key);
        }

        return shards;
    }

    // Ascending shard order everywhere: two operations that need overlapping sets of shards always
    // meet at their lowest common shard first, so they cannot deadlock.
    private void EnterShards(ulong shards)
    {
        for (var rest = shards; rest != 0; rest &= rest - 1)
        {
            _shards[BitOperations.TrailingZeroCount(rest)].Gate.Enter();
        }
    }

    private void ExitShards(ulong shards)
    {
        for (var rest = shards; rest != 0; rest &= rest - 1)
        {
            _shards[BitOperations.TrailingZeroCount(rest)].Gate.Exit();
        }
    }

    // Enters the given shards and every shard the waiter is registered in. The waiter's shard set
    // can only change under the shards it names, so once they are all held it is stable; a retry is
    // needed only if it changed between the read and the last Enter (a concurrent Retire).
    private ulong EnterWaiterShards(Waiter waiter, ulong shards)
    {
        while (true)
        {
            var held = shards | Volatile.Read(ref waiter.Shards);
            EnterShards(held);
            if ((waiter.Shards & ~held) == 0)
            {
                return held;
            }

            ExitShards(held);
        }
    }

    // Caller holds the key's shard.
    private bool IsReady(ReadOnlySpan<byte> key)
    {
        if (Find(key) is not null)
        {
            return true;
        }

        var shard = ShardFor(key);
        return shard.Queues.Count != 0 && shard.QueuesBySpan.TryGetValue(key, out var queue) && queue.Count > 0;
    }

    // Caller holds the key's shard. An existing key's cell is overwritten in place (no allocation
    // when the value fits); a new key gets its own copy of the key and a new cell.
    private void Store(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (Find(key) is not { } cell)
        {
            Create(key, value);
            return;
        }

        // Under the shard lock a cell in the map is live (DELETE takes the lock too).
        cell.Enter();
        try
        {
            KeyObserver?.OnKeyChanged(KeyChange.Updated, key, cell.Locked, value);
            cell.Write(value);
        }
        finally
        {
            cell.Exit();
        }
    }

    // Caller holds the key's shard and found the key missing.
    private void Create(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int minimumCapacity = 0)
    {
        KeyObserver?.OnKeyChanged(KeyChange.Created, key, default, value);
        AddCell(new ValueCell(key, value, minimumCapacity));
    }

    // The fast path of a single-key write: an existing key's cell, taken without any shard lock.
    // It needs no wake-up: nobody waits for a key that is present (a WAIT registers only missing
    // keys under the shard lock, and a key becomes present only under that lock, which wakes its
    // waiters then). A cell deleted meanwhile is refused, and the caller takes the shard lock.
    private bool TryEnterLiveCell(ReadOnlySpan<byte> key, out ValueCell cell, out int hash)
    {
        hash = ByteKeyComparer.HashOf(key);
        cell = _tables[ShardOf(hash)].Find(key, hash)!;
        return cell is not null && cell.TryEnterLive();
    }

    // Caller holds the shards of the keys: releases the cells of those keys this thread holds.
    private void ExitCells(KeyList keys)
    {
        foreach (var entry in keys)
        {
            if (Find(entry.Key) is { } cell && cell.IsHeldByCurrentThread)
            {
                cell.Exit();
            }
        }
    }

    // Caller holds the cell. Parses like C stoll; false, with nothing changed, when not a number.
    private bool TryAddTo(ReadOnlySpan<byte> key, ValueCell cell, long delta, out long result)
    {
        if (!DecimalCounter.TryParse(cell.Locked, out var parsed))
        {
            result = 0;
            return false;
        }

        result = unchecked(parsed + delta);
        Span<byte> text = stackalloc byte[DecimalCounter.MaxLength];
        var length = DecimalCounter.Format(result, text);
        KeyObserver?.OnKeyChanged(KeyChange.Updated, key, cell.Locked, text[..length]);
        cell.Write(text[..length], DecimalCounter.MaxLength);
        return true;
    }

    // Caller holds the cell of a present key: nobody waits for it, so a swap wakes nobody.
    private void CompareSetIn(ReadOnlySpan<byte> key, ValueCell cell, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired, IBufferWriter<byte> reply)
    {
        if (cell.Locked.SequenceEqual(expected))
        {
            KeyObserver?.OnKeyChanged(KeyChange.Updated, key, cell.Locked, desired);
            cell.Write(desired);
            reply.WriteBlob(desired);
        }
        else
        {
            reply.WriteBlob(cell.Locked);
        }
    }
}
