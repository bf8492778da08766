using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>
/// Writes without a reply (SET, MULTI_SET, APPEND, QUEUE_PUSH) sent on one connection since its last reply, kept
/// (encoded) only when the client retries after connection loss: a reply on the same connection confirms every
/// earlier request, and until then a broken connection leaves their fate unknown. The repeatable ones are sent
/// again, in order, on the next connection; the others are reported. Not thread-safe: used under the primary lock.
/// </summary>
internal sealed class UnconfirmedWrites : IDisposable
{
    /// <summary>Past this many bytes or writes, the client confirms them with a round trip before sending more.</summary>
    public const int MaxBytes = 1 << 20;

    /// <inheritdoc cref="MaxBytes"/>
    public const int MaxCount = 256;

    private readonly List<(string What, PooledBufferWriter Request)> _writes = [];

    public int Count => _writes.Count;

    public long Bytes { get; private set; }

    /// <summary>How many times these writes have been sent again on a new connection.</summary>
    public int Replays { get; set; }

    public bool IsFull => Bytes >= MaxBytes || _writes.Count >= MaxCount;

    public IEnumerable<(string What, ReadOnlyMemory<byte> Request)> Writes => _writes.Select(w => (w.What, w.Request.WrittenMemory));

    /// <summary>Takes ownership of <paramref name="request"/>.</summary>
    public void Add(string what, PooledBufferWriter request)
    {
        _writes.Add((what, request));
        Bytes += request.WrittenMemory.Length;
    }

    /// <summary>Moves <paramref name="later"/>'s writes after these (they were sent later) and empties it.</summary>
    public void Append(UnconfirmedWrites later)
    {
        _writes.AddRange(later._writes);
        Bytes += later.Bytes;
        Replays = Math.Max(Replays, later.Replays);
        later._writes.Clear();
        later.Bytes = 0;
    }

    /// <summary>Drops the writes that must not be repeated and returns their names (empty when there were none).</summary>
    public IReadOnlyList<string> RemoveUnrepeatable()
    {
        var removed = new List<string>();
        for (var i = _writes.Count - 1; i >= 0; i--)
        {
            if (!RetryPolicy.IsRepeatable(_writes[i].What))
            {
                removed.Insert(0, _writes[i].What);
                Bytes -= _writes[i].Request.WrittenMemory.Length;
                _writes[i].Request.Dispose();
                _writes.RemoveAt(i);
            }
        }

        return removed;
    }

    /// <summary>The writes were confirmed (or given up): releases their buffers.</summary>
    public void Clear()
    {
        foreach (var (_, request) in _writes)
        {
            request.Dispose();
        }

        _writes.Clear();
        Bytes = 0;
        Replays = 0;
    }

    public void Dispose() => Clear();
}
