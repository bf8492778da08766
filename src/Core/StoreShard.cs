namespace TcpStore.Core;

/// <summary>
/// One shard of the store: the lock that every write of its keys takes, its queues and the wait
/// lists of its keys. The values themselves live in the store's one concurrent map, which GET reads
/// without any lock.
/// </summary>
internal sealed class StoreShard
{
    /// <summary>Held by every write, wait registration and queue operation on a key of this shard.</summary>
    /// <remarks>
    /// Allocated first, before the shard's dictionaries, so that the locks of neighbouring shards
    /// are a few hundred bytes apart on the heap (compaction keeps the order): two threads writing
    /// keys of different shards do not bounce one cache line between cores.
    /// </remarks>
    public readonly Lock Gate = new();

    /// <summary>The FIFO queues named by keys of this shard (a separate namespace from the map).</summary>
    public readonly Dictionary<byte[], Queue<byte[]>> Queues = new(ByteKeyComparer.Instance);

    /// <summary>Lookup of <see cref="Queues"/> by a span straight out of the request.</summary>
    public readonly Dictionary<byte[], Queue<byte[]>>.AlternateLookup<ReadOnlySpan<byte>> QueuesBySpan;

    /// <summary>Who waits for which key of this shard.</summary>
    public readonly WaitRegistry Waits = new();

    public StoreShard()
    {
        QueuesBySpan = Queues.GetAlternateLookup<ReadOnlySpan<byte>>();
    }
}
