using System.Diagnostics;
using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>The store operations: each encodes its request(s), then runs the shared sync/async core.</summary>
public sealed partial class TcpStoreClient
{
    private static readonly ReplyReader<long> ReadInt64 = static (c, d, s, t) => c.ReadInt64Async(d, s, t);
    private static readonly ReplyReader<byte[]> ReadBlob = static (c, d, s, t) => c.ReadBlobAsync(d, s, t);

    /// <inheritdoc />
    public override void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        => SyncOverValueTask.Complete(SendOnlyAsync(EncodeKeyValue(QueryType.Set, key, value), "SET", sync: true, default));

    /// <inheritdoc />
    public override ValueTask SetAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => SendOnlyAsync(EncodeKeyValue(QueryType.Set, key.Span, value.Span), "SET", sync: false, cancellationToken);

    /// <inheritdoc />
    public override byte[] Get(ReadOnlySpan<byte> key) => SyncOverValueTask.Result(GetCoreAsync(key.ToArray(), sync: true, default));

    /// <inheritdoc />
    public override ValueTask<byte[]> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
        => GetCoreAsync(key.ToArray(), sync: false, cancellationToken);

    /// <inheritdoc />
    public override long Add(ReadOnlySpan<byte> key, long delta)
        => SyncOverValueTask.Result(RunAsync(EncodeAdd(_prefix, key, delta), "ADD", ReadInt64, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<long> AddAsync(ReadOnlyMemory<byte> key, long delta, CancellationToken cancellationToken = default)
        => RunAsync(EncodeAdd(_prefix, key.Span, delta), "ADD", ReadInt64, sync: false, cancellationToken);

    /// <inheritdoc />
    public override byte[] CompareSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired)
        => SyncOverValueTask.Result(RunAsync(EncodeCompareSet(key, expected, desired), "COMPARE_SET", ReadBlob, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<byte[]> CompareSetAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> expected, ReadOnlyMemory<byte> desired, CancellationToken cancellationToken = default)
        => RunAsync(EncodeCompareSet(key.Span, expected.Span, desired.Span), "COMPARE_SET", ReadBlob, sync: false, cancellationToken);

    /// <inheritdoc />
    public override bool Check(IReadOnlyList<byte[]> keys)
        => SyncOverValueTask.Result(RunAsync(EncodeMulti(QueryType.Check, _prefix, keys), "CHECK", ReadCheck, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<bool> CheckAsync(IReadOnlyList<byte[]> keys, CancellationToken cancellationToken = default)
        => RunAsync(EncodeMulti(QueryType.Check, _prefix, keys), "CHECK", ReadCheck, sync: false, cancellationToken);

    /// <inheritdoc />
    public override void Wait(IReadOnlyList<byte[]> keys, TimeSpan? timeout = null)
        => SyncOverValueTask.Result(WaitCoreAsync(keys, timeout, sync: true, default));

    /// <inheritdoc />
    public override async ValueTask WaitAsync(IReadOnlyList<byte[]> keys, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => await WaitCoreAsync(keys, timeout, sync: false, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public override bool DeleteKey(ReadOnlySpan<byte> key)
        => SyncOverValueTask.Result(RunAsync(EncodeKey(QueryType.DeleteKey, _prefix, key), "DELETE_KEY", ReadDeleted, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<bool> DeleteKeyAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
        => RunAsync(EncodeKey(QueryType.DeleteKey, _prefix, key.Span), "DELETE_KEY", ReadDeleted, sync: false, cancellationToken);

    /// <inheritdoc />
    public override void Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        => SyncOverValueTask.Complete(SendOnlyAsync(EncodeKeyValue(QueryType.Append, key, value), "APPEND", sync: true, default));

    /// <inheritdoc />
    public override ValueTask AppendAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => SendOnlyAsync(EncodeKeyValue(QueryType.Append, key.Span, value.Span), "APPEND", sync: false, cancellationToken);

    /// <inheritdoc />
    public override IReadOnlyList<byte[]> MultiGet(IReadOnlyList<byte[]> keys)
        => SyncOverValueTask.Result(MultiGetCoreAsync(keys, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<IReadOnlyList<byte[]>> MultiGetAsync(IReadOnlyList<byte[]> keys, CancellationToken cancellationToken = default)
        => MultiGetCoreAsync(keys, sync: false, cancellationToken);

    /// <inheritdoc />
    public override void MultiSet(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values)
        => SyncOverValueTask.Complete(SendOnlyAsync(EncodeMultiSet(keys, values), "MULTI_SET", sync: true, default));

    /// <inheritdoc />
    public override ValueTask MultiSetAsync(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values, CancellationToken cancellationToken = default)
        => SendOnlyAsync(EncodeMultiSet(keys, values), "MULTI_SET", sync: false, cancellationToken);

    /// <inheritdoc />
    public override long NumKeys()
        => SyncOverValueTask.Result(RunAsync(EncodeBare(QueryType.GetNumKeys), "GETNUMKEYS", ReadInt64, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<long> NumKeysAsync(CancellationToken cancellationToken = default)
        => RunAsync(EncodeBare(QueryType.GetNumKeys), "GETNUMKEYS", ReadInt64, sync: false, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Keeps only keys that start with <see cref="TcpStoreClientOptions.KeyPrefix"/> and removes it, as PyTorch does.</remarks>
    public override IReadOnlyList<byte[]> ListKeys()
        => StripPrefix(SyncOverValueTask.Result(RunAsync(EncodeBare(QueryType.ListKeys), "LIST_KEYS", ReadKeyList, sync: true, default)));

    /// <inheritdoc />
    public override async ValueTask<IReadOnlyList<byte[]>> ListKeysAsync(CancellationToken cancellationToken = default)
        => StripPrefix(await RunAsync(EncodeBare(QueryType.ListKeys), "LIST_KEYS", ReadKeyList, sync: false, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public override TimeSpan Ping() => SyncOverValueTask.Result(PingCoreAsync(sync: true, default));

    /// <inheritdoc />
    public override ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default) => PingCoreAsync(sync: false, cancellationToken);

    /// <inheritdoc />
    public override void QueuePush(ReadOnlySpan<byte> queue, ReadOnlySpan<byte> value)
        => SyncOverValueTask.Complete(SendOnlyAsync(EncodeKeyValue(QueryType.QueuePush, queue, value), "QUEUE_PUSH", sync: true, default));

    /// <inheritdoc />
    public override ValueTask QueuePushAsync(ReadOnlyMemory<byte> queue, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => SendOnlyAsync(EncodeKeyValue(QueryType.QueuePush, queue.Span, value.Span), "QUEUE_PUSH", sync: false, cancellationToken);

    /// <inheritdoc />
    public override byte[] QueuePop(ReadOnlySpan<byte> queue, bool block = true, TimeSpan? timeout = null)
        => SyncOverValueTask.Result(QueuePopCoreAsync(queue.ToArray(), block, timeout, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<byte[]> QueuePopAsync(ReadOnlyMemory<byte> queue, bool block = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => QueuePopCoreAsync(queue.ToArray(), block, timeout, sync: false, cancellationToken);

    /// <inheritdoc />
    public override long QueueLength(ReadOnlySpan<byte> queue)
        => SyncOverValueTask.Result(RunAsync(EncodeKey(QueryType.QueueLength, _prefix, queue), "QUEUE_LEN", ReadInt64, sync: true, default));

    /// <inheritdoc />
    public override ValueTask<long> QueueLengthAsync(ReadOnlyMemory<byte> queue, CancellationToken cancellationToken = default)
        => RunAsync(EncodeKey(QueryType.QueueLength, _prefix, queue.Span), "QUEUE_LEN", ReadInt64, sync: false, cancellationToken);

    private static async ValueTask<bool> ReadCheck(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        var reply = await connection.ReadByteAsync(deadline, sync, cancellationToken).ConfigureAwait(false);
        return reply switch
        {
            Protocol.CheckReady => true,
            Protocol.CheckNotReady => false,
            _ => throw new TcpStoreConnectionException(connection.Endpoint, $"protocol error: CHECK replied {reply}", null),
        };
    }

    private static async ValueTask<bool> ReadDeleted(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
        => await connection.ReadInt64Async(deadline, sync, cancellationToken).ConfigureAwait(false) == 1;

    private static async ValueTask<byte[][]> ReadKeyList(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        var count = await connection.ReadInt64Async(deadline, sync, cancellationToken).ConfigureAwait(false);
        if (count < 0 || count > Array.MaxLength)
        {
            throw new InvalidDataException($"LIST_KEYS announced {count} keys");
        }

        var keys = new List<byte[]>((int)Math.Min(count, 1 << 16));
        for (long i = 0; i < count; i++)
        {
            keys.Add(await connection.ReadBlobAsync(deadline, sync, cancellationToken).ConfigureAwait(false));
        }

        return [.. keys];
    }

    private static async ValueTask<byte[]?> ReadQueuePop(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        var lengthBefore = await connection.ReadInt64Async(deadline, sync, cancellationToken).ConfigureAwait(false);
        return lengthBefore > 0 ? await connection.ReadBlobAsync(deadline, sync, cancellationToken).ConfigureAwait(false) : null;
    }

    private async ValueTask SendOnlyAsync(PooledBufferWriter request, string what, bool sync, CancellationToken cancellationToken)
        => await RunAsync<bool>(request, what, reply: null, sync, cancellationToken).ConfigureAwait(false);

    private ValueTask<byte[]> GetCoreAsync(byte[] key, bool sync, CancellationToken cancellationToken)
    {
        byte[][] keys = [key];
        return WaitThenAsync(
            WireKeys(keys), EncodeMulti(QueryType.Wait, _prefix, keys), _options.Timeout,
            EncodeKey(QueryType.Get, _prefix, key), "GET", ReadBlob, sync, cancellationToken);
    }

    private async ValueTask<bool> WaitCoreAsync(IReadOnlyList<byte[]> keys, TimeSpan? timeout, bool sync, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var limit = timeout ?? _options.Timeout;
        if (limit < TimeSpan.Zero && limit != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), "must be positive or infinite");
        }

        await WaitThenAsync<bool>(WireKeys(keys), EncodeMulti(QueryType.Wait, _prefix, keys), limit, null, "WAIT", null, sync, cancellationToken)
            .ConfigureAwait(false);
        return true;
    }

    private ValueTask<IReadOnlyList<byte[]>> MultiGetCoreAsync(IReadOnlyList<byte[]> keys, bool sync, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var count = keys.Count;
        ReplyReader<IReadOnlyList<byte[]>> readValues = async (connection, deadline, isSync, token) =>
        {
            var values = new byte[count][];
            for (var i = 0; i < count; i++)
            {
                values[i] = await connection.ReadBlobAsync(deadline, isSync, token).ConfigureAwait(false);
            }

            return values;
        };
        return WaitThenAsync(
            WireKeys(keys), EncodeMulti(QueryType.Wait, _prefix, keys), _options.Timeout,
            EncodeMulti(QueryType.MultiGet, _prefix, keys), "MULTI_GET", readValues, sync, cancellationToken);
    }

    private async ValueTask<TimeSpan> PingCoreAsync(bool sync, CancellationToken cancellationToken)
    {
        var request = new PooledBufferWriter();
        RequestWriter.WritePing(request, PingNonce);
        var started = Stopwatch.GetTimestamp();
        var echo = await RunAsync(request, "PING", static (c, d, s, t) => c.ReadUInt32Async(d, s, t), sync, cancellationToken).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (echo != PingNonce)
        {
            throw new TcpStoreConnectionException(Endpoint, $"protocol error: PING echoed {echo} instead of {PingNonce}", null);
        }

        return elapsed;
    }

    private async ValueTask<byte[]> QueuePopCoreAsync(byte[] queue, bool block, TimeSpan? timeout, bool sync, CancellationToken cancellationToken)
    {
        var pop = EncodeKey(QueryType.QueuePop, _prefix, queue);
        byte[]? value;
        if (block)
        {
            byte[][] keys = [queue];
            value = await WaitThenAsync(
                WireKeys(keys), EncodeMulti(QueryType.Wait, _prefix, keys), timeout ?? _options.Timeout,
                pop, "QUEUE_POP", ReadQueuePop, sync, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            value = await RunAsync(pop, "QUEUE_POP", ReadQueuePop, sync, cancellationToken).ConfigureAwait(false);
        }

        return value ?? throw new TcpStoreQueueEmptyException($"queue '{ByteText.Display(queue)}' is empty");
    }

    private byte[][] StripPrefix(byte[][] wireKeys)
    {
        if (_prefix.Length == 0)
        {
            return wireKeys;
        }

        return [.. wireKeys.Where(k => k.AsSpan().StartsWith(_prefix)).Select(k => k[_prefix.Length..])];
    }

    private byte[][] WireKeys(IReadOnlyList<byte[]> keys)
    {
        var wire = new byte[keys.Count][];
        for (var i = 0; i < wire.Length; i++)
        {
            wire[i] = [.. _prefix, .. keys[i]];
        }

        return wire;
    }

    private static PooledBufferWriter EncodeBare(QueryType type)
    {
        var request = new PooledBufferWriter();
        RequestWriter.WriteBare(request, type);
        return request;
    }

    private static PooledBufferWriter EncodeKey(QueryType type, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key)
    {
        var request = new PooledBufferWriter();
        RequestWriter.WriteKeyCommand(request, type, prefix, key);
        return request;
    }

    private PooledBufferWriter EncodeKeyValue(QueryType type, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var request = new PooledBufferWriter();
        RequestWriter.WriteKeyValueCommand(request, type, _prefix, key, value);
        return request;
    }

    private static PooledBufferWriter EncodeAdd(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, long delta)
    {
        var request = new PooledBufferWriter();
        RequestWriter.WriteAdd(request, prefix, key, delta);
        return request;
    }

    private PooledBufferWriter EncodeCompareSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired)
    {
        var request = new PooledBufferWriter();
        RequestWriter.WriteCompareSet(request, _prefix, key, expected, desired);
        return request;
    }

    private static PooledBufferWriter EncodeMulti(QueryType type, ReadOnlySpan<byte> prefix, IReadOnlyList<byte[]> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var request = new PooledBufferWriter();
        RequestWriter.WriteMultiHeader(request, type, keys.Count);
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
            request.WriteBlob(prefix, key);
        }

        return request;
    }

    private PooledBufferWriter EncodeMultiSet(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (keys.Count != values.Count)
        {
            throw new ArgumentException($"{keys.Count} keys but {values.Count} values", nameof(values));
        }

        var request = new PooledBufferWriter();
        RequestWriter.WriteMultiHeader(request, QueryType.MultiSet, keys.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            request.WriteBlob(_prefix, keys[i]);
            request.WriteBlob(values[i]);
        }

        return request;
    }
}
