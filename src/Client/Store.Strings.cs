using System.Text;

namespace TcpStore.Client;

/// <summary>String overloads: keys and text values are UTF-8, as Python encodes <c>str</c>.</summary>
public abstract partial class Store
{
    /// <summary>Stores the UTF-8 text <paramref name="value"/> under <paramref name="key"/>.</summary>
    public void Set(string key, string value) => Set(Utf8(key), Utf8(value));

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>.</summary>
    public void Set(string key, ReadOnlySpan<byte> value) => Set(Utf8(key), value);

    /// <inheritdoc cref="Set(string, string)"/>
    public ValueTask SetAsync(string key, string value, CancellationToken cancellationToken = default)
        => SetAsync(Utf8(key), Utf8(value), cancellationToken);

    /// <inheritdoc cref="Set(string, ReadOnlySpan{byte})"/>
    public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        => SetAsync(Utf8(key), value, cancellationToken);

    /// <inheritdoc cref="Get(ReadOnlySpan{byte})"/>
    public byte[] Get(string key) => Get(Utf8(key));

    /// <inheritdoc cref="Get(ReadOnlySpan{byte})"/>
    public ValueTask<byte[]> GetAsync(string key, CancellationToken cancellationToken = default)
        => GetAsync(Utf8(key), cancellationToken);

    /// <summary>Like <see cref="Get(string)"/>, decoding the value as UTF-8.</summary>
    public string GetString(string key) => Encoding.UTF8.GetString(Get(key));

    /// <summary>Like <see cref="GetAsync(string, CancellationToken)"/>, decoding the value as UTF-8.</summary>
    public async ValueTask<string> GetStringAsync(string key, CancellationToken cancellationToken = default)
        => Encoding.UTF8.GetString(await GetAsync(key, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc cref="Add(ReadOnlySpan{byte}, long)"/>
    public long Add(string key, long delta) => Add(Utf8(key), delta);

    /// <inheritdoc cref="Add(ReadOnlySpan{byte}, long)"/>
    public ValueTask<long> AddAsync(string key, long delta, CancellationToken cancellationToken = default)
        => AddAsync(Utf8(key), delta, cancellationToken);

    /// <inheritdoc cref="CompareSet(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public string CompareSet(string key, string expected, string desired)
        => Encoding.UTF8.GetString(CompareSet(Utf8(key), Utf8(expected), Utf8(desired)));

    /// <inheritdoc cref="CompareSet(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public async ValueTask<string> CompareSetAsync(string key, string expected, string desired, CancellationToken cancellationToken = default)
        => Encoding.UTF8.GetString(await CompareSetAsync(Utf8(key), Utf8(expected), Utf8(desired), cancellationToken).ConfigureAwait(false));

    /// <inheritdoc cref="Check(IReadOnlyList{byte[]})"/>
    public bool Check(params string[] keys) => Check(Utf8(keys));

    /// <inheritdoc cref="Check(IReadOnlyList{byte[]})"/>
    public ValueTask<bool> CheckAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        => CheckAsync(Utf8(keys), cancellationToken);

    /// <inheritdoc cref="Wait(IReadOnlyList{byte[]}, TimeSpan?)"/>
    public void Wait(IReadOnlyList<string> keys, TimeSpan? timeout = null) => Wait(Utf8(keys), timeout);

    /// <summary>Waits until <paramref name="key"/> exists, up to <paramref name="timeout"/> (default: the store timeout).</summary>
    public void Wait(string key, TimeSpan? timeout = null) => Wait([key], timeout);

    /// <inheritdoc cref="Wait(IReadOnlyList{byte[]}, TimeSpan?)"/>
    public ValueTask WaitAsync(IReadOnlyList<string> keys, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => WaitAsync(Utf8(keys), timeout, cancellationToken);

    /// <inheritdoc cref="DeleteKey(ReadOnlySpan{byte})"/>
    public bool DeleteKey(string key) => DeleteKey(Utf8(key));

    /// <inheritdoc cref="DeleteKey(ReadOnlySpan{byte})"/>
    public ValueTask<bool> DeleteKeyAsync(string key, CancellationToken cancellationToken = default)
        => DeleteKeyAsync(Utf8(key), cancellationToken);

    /// <inheritdoc cref="Append(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public void Append(string key, string value) => Append(Utf8(key), Utf8(value));

    /// <inheritdoc cref="Append(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public ValueTask AppendAsync(string key, string value, CancellationToken cancellationToken = default)
        => AppendAsync(Utf8(key), Utf8(value), cancellationToken);

    /// <inheritdoc cref="MultiGet(IReadOnlyList{byte[]})"/>
    public IReadOnlyList<byte[]> MultiGet(params string[] keys) => MultiGet(Utf8(keys));

    /// <inheritdoc cref="MultiGet(IReadOnlyList{byte[]})"/>
    public ValueTask<IReadOnlyList<byte[]>> MultiGetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        => MultiGetAsync(Utf8(keys), cancellationToken);

    /// <inheritdoc cref="MultiSet(IReadOnlyList{byte[]}, IReadOnlyList{byte[]})"/>
    public void MultiSet(IReadOnlyList<string> keys, IReadOnlyList<string> values) => MultiSet(Utf8(keys), Utf8(values));

    /// <inheritdoc cref="MultiSet(IReadOnlyList{byte[]}, IReadOnlyList{byte[]})"/>
    public ValueTask MultiSetAsync(IReadOnlyList<string> keys, IReadOnlyList<string> values, CancellationToken cancellationToken = default)
        => MultiSetAsync(Utf8(keys), Utf8(values), cancellationToken);

    /// <summary>Like <see cref="ListKeys()"/>, decoding each key as UTF-8.</summary>
    public IReadOnlyList<string> ListKeyStrings() => [.. ListKeys().Select(Encoding.UTF8.GetString)];

    /// <summary>Like <see cref="ListKeysAsync(CancellationToken)"/>, decoding each key as UTF-8.</summary>
    public async ValueTask<IReadOnlyList<string>> ListKeyStringsAsync(CancellationToken cancellationToken = default)
        => [.. (await ListKeysAsync(cancellationToken).ConfigureAwait(false)).Select(Encoding.UTF8.GetString)];

    /// <inheritdoc cref="QueuePush(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public void QueuePush(string queue, string value) => QueuePush(Utf8(queue), Utf8(value));

    /// <inheritdoc cref="QueuePush(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public ValueTask QueuePushAsync(string queue, string value, CancellationToken cancellationToken = default)
        => QueuePushAsync(Utf8(queue), Utf8(value), cancellationToken);

    /// <inheritdoc cref="QueuePop(ReadOnlySpan{byte}, bool, TimeSpan?)"/>
    public byte[] QueuePop(string queue, bool block = true, TimeSpan? timeout = null) => QueuePop(Utf8(queue), block, timeout);

    /// <inheritdoc cref="QueuePop(ReadOnlySpan{byte}, bool, TimeSpan?)"/>
    public ValueTask<byte[]> QueuePopAsync(string queue, bool block = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => QueuePopAsync(Utf8(queue), block, timeout, cancellationToken);

    /// <inheritdoc cref="QueueLength(ReadOnlySpan{byte})"/>
    public long QueueLength(string queue) => QueueLength(Utf8(queue));

    /// <inheritdoc cref="QueueLength(ReadOnlySpan{byte})"/>
    public ValueTask<long> QueueLengthAsync(string queue, CancellationToken cancellationToken = default)
        => QueueLengthAsync(Utf8(queue), cancellationToken);

    private static byte[] Utf8(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Encoding.UTF8.GetBytes(text);
    }

    private static byte[][] Utf8(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new byte[texts.Count][];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = Utf8(texts[i]);
        }

        return result;
    }
}
