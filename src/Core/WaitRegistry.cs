using TcpStore.Core.Inspection;

namespace TcpStore.Core;

/// <summary>One key awaited by one waiter: a node in the key's list and in the waiter's chain.</summary>
internal sealed class WaitRegistration(Waiter waiter, WaiterList list)
{
    public Waiter Waiter { get; } = waiter;

    /// <summary>The list this node is linked into, or null once it was woken or cancelled.</summary>
    public WaiterList? List = list;

    public WaitRegistration? Previous;
    public WaitRegistration? Next;
    public WaitRegistration? NextOfWaiter;
}

/// <summary>The waiters of one key, in registration order.</summary>
internal sealed class WaiterList(byte[] key, WaitRegistry registry)
{
    public byte[] Key { get; } = key;

    /// <summary>The registry (one per shard) that holds this list.</summary>
    public WaitRegistry Registry { get; } = registry;

    public WaitRegistration? Head;
    public WaitRegistration? Tail;
    public int Count;

    public void Append(WaitRegistration node)
    {
        node.Previous = Tail;
        if (Tail is null)
        {
            Head = node;
        }
        else
        {
            Tail.Next = node;
        }

        Tail = node;
        Count++;
    }

    public void Unlink(WaitRegistration node)
    {
        if (node.Previous is null)
        {
            Head = node.Next;
        }
        else
        {
            node.Previous.Next = node.Next;
        }

        if (node.Next is null)
        {
            Tail = node.Previous;
        }
        else
        {
            node.Next.Previous = node.Previous;
        }

        node.Previous = null;
        node.Next = null;
        node.List = null;
        Count--;
    }
}

/// <summary>
/// Per-key lists of waiting connections for the keys of one shard. Not thread-safe: the store calls
/// it only under the shard's lock, the same lock its writes take, which is what makes a wake-up part
/// of the same atomic step as the write that causes it. Registration, wake-up of one node and
/// cancellation of one node are all O(1), so 10,000 waiters that disconnect cost 10,000 steps, not 10,000².
/// </summary>
internal sealed class WaitRegistry
{
    private readonly Dictionary<byte[], WaiterList> _byKey = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], WaiterList>.AlternateLookup<ReadOnlySpan<byte>> _byKeySpan;

    public WaitRegistry()
    {
        _byKeySpan = _byKey.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Number of keys with at least one waiter.</summary>
    public int KeyCount => _byKey.Count;

    /// <summary>Adds one registration of <paramref name="waiter"/> on <paramref name="key"/> and counts it.</summary>
    public void Register(Waiter waiter, ReadOnlySpan<byte> key)
    {
        if (!_byKeySpan.TryGetValue(key, out var list))
        {
            var owned = key.ToArray();
            list = new WaiterList(owned, this);
            _byKey.Add(owned, list);
        }

        if (waiter.Remaining == 0)
        {
            waiter.WaitingSince = Environment.TickCount64;
        }

        var node = new WaitRegistration(waiter, list) { NextOfWaiter = waiter.Registrations };
        waiter.Registrations = node;
        list.Append(node);
        // Not atomic, and need not be: the registering WAIT holds every shard this waiter is
        // registered in, so no waker can decrement the count meanwhile.
        waiter.Remaining++;
    }

    /// <summary>Wakes every waiter on the key, in registration order, and forgets the key's list.</summary>
    public void WakeAll(ReadOnlySpan<byte> key)
    {
        if (_byKey.Count == 0 || !_byKeySpan.Remove(key, out _, out var list))
        {
            return;
        }

        for (var node = list.Head; node is not null;)
        {
            var next = node.Next;
            node.List = null;
            node.Previous = null;
            node.Next = null;
            Decrement(node.Waiter);
            node = next;
        }
    }

    /// <summary>
    /// Wakes one waiter for a queue push: the oldest registrant is taken off the list and its
    /// count decremented; if that completes its WAIT it is woken and the walk stops, otherwise
    /// the next registrant is tried.
    /// </summary>
    public void WakeOne(ReadOnlySpan<byte> key)
    {
        if (_byKey.Count == 0 || !_byKeySpan.TryGetValue(key, out var list))
        {
            return;
        }

        var woke = false;
        while (!woke && list.Head is { } node)
        {
            list.Unlink(node);
            woke = Decrement(node.Waiter);
        }

        if (list.Count == 0)
        {
            _byKey.Remove(list.Key);
        }
    }

    /// <summary>
    /// Removes every registration of <paramref name="waiter"/>, whatever shard it is in. The caller
    /// holds the lock of every shard in <see cref="Waiter.Shards"/>.
    /// </summary>
    /// <returns>True when a WAIT was pending.</returns>
    public static bool Cancel(Waiter waiter)
    {
        var wasWaiting = waiter.Remaining > 0;
        for (var node = waiter.Registrations; node is not null; node = node.NextOfWaiter)
        {
            if (node.List is { } list)
            {
                list.Unlink(node);
                if (list.Count == 0)
                {
                    list.Registry._byKey.Remove(list.Key);
                }
            }
        }

        waiter.Registrations = null;
        waiter.Remaining = 0;
        return wasWaiting;
    }

    /// <summary>Copies the awaited keys and their waiter counts (for operators' diagnostics).</summary>
    public List<KeyValuePair<byte[], int>> Snapshot()
    {
        var result = new List<KeyValuePair<byte[], int>>(_byKey.Count);
        foreach (var (key, list) in _byKey)
        {
            result.Add(new(key, list.Count));
        }

        return result;
    }

    /// <summary>Appends every (waiter, awaited key, waiting since) registration (for operators' diagnostics).</summary>
    public void CopyRegistrations(List<WaitEntry> into)
    {
        foreach (var (key, list) in _byKey)
        {
            for (var node = list.Head; node is not null; node = node.Next)
            {
                into.Add(new WaitEntry(node.Waiter, key, node.Waiter.WaitingSince));
            }
        }
    }

    // Wakers on different shards may decrement one waiter at the same time; exactly one reaches zero.
    private static bool Decrement(Waiter waiter)
    {
        if (Interlocked.Decrement(ref waiter.Remaining) != 0)
        {
            return false;
        }

        // Every registration of a waiter whose count reached zero has been consumed. Dropping the
        // chain here is safe: the caller holds this shard's lock, which is in the waiter's Shards,
        // and everyone else who reads the chain holds all of those.
        waiter.Registrations = null;
        waiter.OnWaitSatisfied();
        return true;
    }
}
