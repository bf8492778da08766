using BenchmarkDotNet.Attributes;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>
/// GET of random keys out of a large key space, the store's table against the
/// <c>ConcurrentDictionary</c> map it replaced (<see cref="GlobalLockStore"/> keeps that layout), side
/// by side. With thousands of keys a lookup is mostly cache misses, one per dependent load, which a
/// single hot key (<see cref="StoreBenchmarks.Get"/>) never shows.
/// </summary>
[MemoryDiagnoser]
public class LookupBenchmarks
{
    private const int Batch = 1024;

    // Random picks, walked a batch at a time across invocations: far more than a batch, so a batch
    // does not find its keys cached by the previous invocation.
    private const int Picks = 1 << 20;

    private readonly PooledBufferWriter _reply = new();
    private KeyValueStore _table = new();
    private GlobalLockStore _dictionary = new();
    private byte[][] _order = [];
    private int _next;

    /// <summary>Keys in the store (the load bench's default is 10,000).</summary>
    [Params(10_000, 1_000_000)]
    public int Keys { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = new KeyValueStore();
        _dictionary = new GlobalLockStore();
        var value = new byte[64];
        value.AsSpan().Fill((byte)'v');
        var keys = Enumerable.Range(0, Keys).Select(i => System.Text.Encoding.ASCII.GetBytes($"/bench/key:{i:D8}")).ToArray();
        // Inserted in a shuffled order, as a job's ranks create them, so neighbours in memory are not neighbours in use.
        var random = new Random(17);
        foreach (var key in keys.OrderBy(_ => random.Next()))
        {
            _table.Set(key, value);
            _dictionary.Set(key, value);
        }

        _order = Enumerable.Range(0, Picks).Select(_ => keys[random.Next(keys.Length)]).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _reply.Release();

    /// <summary>GET through the per-shard open-addressing tables (the store today).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Table()
    {
        var total = 0;
        foreach (var key in NextBatch())
        {
            _reply.Clear();
            _table.WriteValue(key, _reply);
            total += _reply.WrittenCount;
        }

        return total;
    }

    /// <summary>GET through one <c>ConcurrentDictionary</c> of cells (the store before).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Dictionary()
    {
        var total = 0;
        foreach (var key in NextBatch())
        {
            _reply.Clear();
            _dictionary.WriteValue(key, _reply);
            total += _reply.WrittenCount;
        }

        return total;
    }

    private ReadOnlySpan<byte[]> NextBatch()
    {
        var start = _next;
        _next = (_next + Batch) % Picks;
        return _order.AsSpan(start, Batch);
    }
}
