namespace TcpStore.Client;

/// <summary>
/// The c10d store API (what PyTorch's <c>torch.distributed.Store</c> offers), over byte keys and values.
/// <see cref="TcpStoreClient"/> talks to a server; <see cref="PrefixStore"/> scopes another store under a prefix.
/// String overloads (UTF-8, as Python encodes <c>str</c>) are in the other part of this class.
/// </summary>
/// <remarks>
/// Every operation exists in a blocking and a <see cref="ValueTask"/> form. Keys of the blocking forms are
/// spans, of the asynchronous forms memory; multi-key operations take lists of arrays.
/// </remarks>
public abstract partial class Store : IDisposable, IAsyncDisposable
{
    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any old value.</summary>
    public abstract void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    /// <inheritdoc cref="Set(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public abstract ValueTask SetAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Waits (up to the store timeout) until <paramref name="key"/> exists, then returns its value.</summary>
    /// <exception cref="TcpStoreTimeoutException">The key did not appear in time.</exception>
    public abstract byte[] Get(ReadOnlySpan<byte> key);

    /// <inheritdoc cref="Get(ReadOnlySpan{byte})"/>
    public abstract ValueTask<byte[]> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds <paramref name="delta"/> to the decimal counter under <paramref name="key"/> (a missing key counts as 0)
    /// and returns the new value.
    /// </summary>
    public abstract long Add(ReadOnlySpan<byte> key, long delta);

    /// <inheritdoc cref="Add(ReadOnlySpan{byte}, long)"/>
    public abstract ValueTask<long> AddAsync(ReadOnlyMemory<byte> key, long delta, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="desired"/> if the current value equals <paramref name="expected"/> (an empty
    /// <paramref name="expected"/> also matches a missing key). Returns the server's answer: the value after the
    /// operation, or <paramref name="expected"/> when the key is missing and <paramref name="expected"/> is not empty.
    /// </summary>
    public abstract byte[] CompareSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired);

    /// <inheritdoc cref="CompareSet(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public abstract ValueTask<byte[]> CompareSetAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> expected, ReadOnlyMemory<byte> desired, CancellationToken cancellationToken = default);

    /// <summary>Whether every key exists now (no waiting). An empty list is ready.</summary>
    public abstract bool Check(IReadOnlyList<byte[]> keys);

    /// <inheritdoc cref="Check(IReadOnlyList{byte[]})"/>
    public abstract ValueTask<bool> CheckAsync(IReadOnlyList<byte[]> keys, CancellationToken cancellationToken = default);

    /// <summary>Waits until every key exists, up to <paramref name="timeout"/> (default: the store timeout).</summary>
    /// <exception cref="TcpStoreTimeoutException">Some keys were still missing at the deadline (they are named).</exception>
    public abstract void Wait(IReadOnlyList<byte[]> keys, TimeSpan? timeout = null);

    /// <inheritdoc cref="Wait(IReadOnlyList{byte[]}, TimeSpan?)"/>
    public abstract ValueTask WaitAsync(IReadOnlyList<byte[]> keys, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes <paramref name="key"/>; returns whether it existed.</summary>
    public abstract bool DeleteKey(ReadOnlySpan<byte> key);

    /// <inheritdoc cref="DeleteKey(ReadOnlySpan{byte})"/>
    public abstract ValueTask<bool> DeleteKeyAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default);

    /// <summary>Appends <paramref name="value"/> to the value of <paramref name="key"/>, creating it if missing.</summary>
    public abstract void Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    /// <inheritdoc cref="Append(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public abstract ValueTask AppendAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Waits (up to the store timeout) until every key exists, then returns their values in order.</summary>
    public abstract IReadOnlyList<byte[]> MultiGet(IReadOnlyList<byte[]> keys);

    /// <inheritdoc cref="MultiGet(IReadOnlyList{byte[]})"/>
    public abstract ValueTask<IReadOnlyList<byte[]>> MultiGetAsync(IReadOnlyList<byte[]> keys, CancellationToken cancellationToken = default);

    /// <summary>Stores each key/value pair, in order, in one request.</summary>
    public abstract void MultiSet(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values);

    /// <inheritdoc cref="MultiSet(IReadOnlyList{byte[]}, IReadOnlyList{byte[]})"/>
    public abstract ValueTask MultiSetAsync(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values, CancellationToken cancellationToken = default);

    /// <summary>The number of keys on the server: every key, including internal ones such as <c>init/</c>, not queues.</summary>
    public abstract long NumKeys();

    /// <inheritdoc cref="NumKeys()"/>
    public abstract ValueTask<long> NumKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>The keys visible to this store (PyTorch 2.10+ servers), in server order.</summary>
    public abstract IReadOnlyList<byte[]> ListKeys();

    /// <inheritdoc cref="ListKeys()"/>
    public abstract ValueTask<IReadOnlyList<byte[]>> ListKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Round trip to the server (PING, PyTorch 2.5+ servers); returns the time it took.</summary>
    public abstract TimeSpan Ping();

    /// <inheritdoc cref="Ping()"/>
    public abstract ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default);

    /// <summary>Appends <paramref name="value"/> to the FIFO queue <paramref name="queue"/> (libuv servers, PyTorch 2.8+).</summary>
    public abstract void QueuePush(ReadOnlySpan<byte> queue, ReadOnlySpan<byte> value);

    /// <inheritdoc cref="QueuePush(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public abstract ValueTask QueuePushAsync(ReadOnlyMemory<byte> queue, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes the oldest value of <paramref name="queue"/>. With <paramref name="block"/> it first waits up to
    /// <paramref name="timeout"/> (default: the store timeout) for the queue to be non-empty.
    /// </summary>
    /// <exception cref="TcpStoreQueueEmptyException">The queue was empty (after the wait, if any).</exception>
    /// <exception cref="TcpStoreTimeoutException">A blocking pop found nothing within the timeout.</exception>
    public abstract byte[] QueuePop(ReadOnlySpan<byte> queue, bool block = true, TimeSpan? timeout = null);

    /// <inheritdoc cref="QueuePop(ReadOnlySpan{byte}, bool, TimeSpan?)"/>
    public abstract ValueTask<byte[]> QueuePopAsync(ReadOnlyMemory<byte> queue, bool block = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>The number of values in <paramref name="queue"/> (0 when it does not exist).</summary>
    public abstract long QueueLength(ReadOnlySpan<byte> queue);

    /// <inheritdoc cref="QueueLength(ReadOnlySpan{byte})"/>
    public abstract ValueTask<long> QueueLengthAsync(ReadOnlyMemory<byte> queue, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Releases the store's connections (a wrapper releases nothing it does not own).</summary>
    /// <param name="disposing">Called from <see cref="Dispose()"/> rather than a finalizer.</param>
    protected virtual void Dispose(bool disposing)
    {
    }
}
