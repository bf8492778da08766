using System.Text;

namespace TcpStore.Client;

/// <summary>
/// Scopes another store under a prefix, as PyTorch's <c>PrefixStore</c> does: key <c>k</c> becomes
/// <c>prefix + "/" + k</c> in the inner store (so a PyTorch <c>PrefixStore("default_pg", store)</c> and this one see
/// the same keys). Wrappers nest. Disposing a prefix store does not dispose the inner store.
/// </summary>
public sealed class PrefixStore : Store
{
    private readonly byte[] _prefix;
    private readonly string _prefixText;

    /// <summary>Wraps <paramref name="inner"/> so every key is scoped under <paramref name="prefix"/>.</summary>
    public PrefixStore(string prefix, Store inner)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(inner);
        _prefixText = prefix + "/";
        _prefix = Encoding.UTF8.GetBytes(_prefixText);
        Inner = inner;
    }

    /// <summary>The wrapped store.</summary>
    public Store Inner { get; }

    /// <inheritdoc />
    public override void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => Inner.Set(Scoped(key), value);

    /// <inheritdoc />
    public override ValueTask SetAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => Inner.SetAsync(Scoped(key.Span), value, cancellationToken);

    /// <inheritdoc />
    public override byte[] Get(ReadOnlySpan<byte> key)
    {
        try
        {
            return Inner.Get(Scoped(key));
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<byte[]> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Inner.GetAsync(Scoped(key.Span), cancellationToken).ConfigureAwait(false);
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override long Add(ReadOnlySpan<byte> key, long delta) => Inner.Add(Scoped(key), delta);

    /// <inheritdoc />
    public override ValueTask<long> AddAsync(ReadOnlyMemory<byte> key, long delta, CancellationToken cancellationToken = default)
        => Inner.AddAsync(Scoped(key.Span), delta, cancellationToken);

    /// <inheritdoc />
    public override byte[] CompareSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired)
        => Inner.CompareSet(Scoped(key), expected, desired);

    /// <inheritdoc />
    public override ValueTask<byte[]> CompareSetAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> expected, ReadOnlyMemory<byte> desired, CancellationToken cancellationToken = default)
        => Inner.CompareSetAsync(Scoped(key.Span), expected, desired, cancellationToken);

    /// <inheritdoc />
    public override bool Check(IReadOnlyList<byte[]> keys) => Inner.Check(Scoped(keys));

    /// <inheritdoc />
    public override ValueTask<bool> CheckAsync(IReadOnlyList<byte[]> keys, CancellationToken cancellationToken = default)
        => Inner.CheckAsync(Scoped(keys), cancellationToken);

    /// <inheritdoc />
    public override void Wait(IReadOnlyList<byte[]> keys, TimeSpan? timeout = null)
    {
        try
        {
            Inner.Wait(Scoped(keys), timeout);
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override async ValueTask WaitAsync(IReadOnlyList<byte[]> keys, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        try
        {
            await Inner.WaitAsync(Scoped(keys), timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override bool DeleteKey(ReadOnlySpan<byte> key) => Inner.DeleteKey(Scoped(key));

    /// <inheritdoc />
    public override ValueTask<bool> DeleteKeyAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
        => Inner.DeleteKeyAsync(Scoped(key.Span), cancellationToken);

    /// <inheritdoc />
    public override void Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => Inner.Append(Scoped(key), value);

    /// <inheritdoc />
    public override ValueTask AppendAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => Inner.AppendAsync(Scoped(key.Span), value, cancellationToken);

    /// <inheritdoc />
    public override IReadOnlyList<byte[]> MultiGet(IReadOnlyList<byte[]> keys)
    {
        try
        {
            return Inner.MultiGet(Scoped(keys));
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<IReadOnlyList<byte[]>> MultiGetAsync(IReadOnlyList<byte[]> keys, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Inner.MultiGetAsync(Scoped(keys), cancellationToken).ConfigureAwait(false);
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override void MultiSet(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values) => Inner.MultiSet(Scoped(keys), values);

    /// <inheritdoc />
    public override ValueTask MultiSetAsync(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values, CancellationToken cancellationToken = default)
        => Inner.MultiSetAsync(Scoped(keys), values, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Counts every key on the server, not only this prefix's (as PyTorch does).</remarks>
    public override long NumKeys() => Inner.NumKeys();

    /// <inheritdoc />
    public override ValueTask<long> NumKeysAsync(CancellationToken cancellationToken = default) => Inner.NumKeysAsync(cancellationToken);

    /// <inheritdoc />
    /// <remarks>Only the inner store's keys under this prefix, with the prefix removed.</remarks>
    public override IReadOnlyList<byte[]> ListKeys() => Unscoped(Inner.ListKeys());

    /// <inheritdoc />
    public override async ValueTask<IReadOnlyList<byte[]>> ListKeysAsync(CancellationToken cancellationToken = default)
        => Unscoped(await Inner.ListKeysAsync(cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public override TimeSpan Ping() => Inner.Ping();

    /// <inheritdoc />
    public override ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default) => Inner.PingAsync(cancellationToken);

    /// <inheritdoc />
    public override void QueuePush(ReadOnlySpan<byte> queue, ReadOnlySpan<byte> value) => Inner.QueuePush(Scoped(queue), value);

    /// <inheritdoc />
    public override ValueTask QueuePushAsync(ReadOnlyMemory<byte> queue, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => Inner.QueuePushAsync(Scoped(queue.Span), value, cancellationToken);

    /// <inheritdoc />
    public override byte[] QueuePop(ReadOnlySpan<byte> queue, bool block = true, TimeSpan? timeout = null)
    {
        try
        {
            return Inner.QueuePop(Scoped(queue), block, timeout);
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<byte[]> QueuePopAsync(ReadOnlyMemory<byte> queue, bool block = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Inner.QueuePopAsync(Scoped(queue.Span), block, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TcpStoreTimeoutException ex) when (ex.MissingKeys.Count > 0)
        {
            throw Unscoped(ex);
        }
    }

    /// <inheritdoc />
    public override long QueueLength(ReadOnlySpan<byte> queue) => Inner.QueueLength(Scoped(queue));

    /// <inheritdoc />
    public override ValueTask<long> QueueLengthAsync(ReadOnlyMemory<byte> queue, CancellationToken cancellationToken = default)
        => Inner.QueueLengthAsync(Scoped(queue.Span), cancellationToken);

    private byte[] Scoped(ReadOnlySpan<byte> key) => [.. _prefix, .. key];

    private byte[][] Scoped(IReadOnlyList<byte[]> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var scoped = new byte[keys.Count][];
        for (var i = 0; i < scoped.Length; i++)
        {
            scoped[i] = Scoped(keys[i]);
        }

        return scoped;
    }

    private byte[][] Unscoped(IReadOnlyList<byte[]> keys)
        => [.. keys.Where(k => k.AsSpan().StartsWith(_prefix)).Select(k => k[_prefix.Length..])];

    private TcpStoreTimeoutException Unscoped(TcpStoreTimeoutException ex)
        => new(ex.Timeout, [.. ex.MissingKeys.Select(k => k.StartsWith(_prefixText, StringComparison.Ordinal) ? k[_prefixText.Length..] : k)]);
}
