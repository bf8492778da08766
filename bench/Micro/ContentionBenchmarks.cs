using System.Text;
using BenchmarkDotNet.Attributes;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>Which store design a <see cref="ContentionBenchmarks"/> case runs against.</summary>
public enum StoreDesign
{
    /// <summary>The store as shipped: a lock per shard (<see cref="KeyValueStore"/>).</summary>
    Sharded,

    /// <summary>The previous design, one lock for every write (<see cref="GlobalLockStore"/>).</summary>
    GlobalLock,
}

/// <summary>
/// Write throughput with 1 and 2 threads writing distinct keys, the sharded store against the old
/// global-lock design in the same run. Every invocation does the same total number of writes split
/// over the threads, so the reported time per operation is the inverse of throughput: the 2-thread
/// speed-up is the 1-thread time divided by the 2-thread time.
/// </summary>
/// <remarks>
/// Each thread cycles over its own 64 keys (names made up front, so the loop allocates nothing).
/// They land in shards by the process's random hash seed, as a real job's keys do: two threads hit
/// the same shard about 1/ShardCount of the time, which is part of what is measured.
/// </remarks>
[MemoryDiagnoser]
public class ContentionBenchmarks
{
    /// <summary>Writes per invocation, over all threads.</summary>
    public const int TotalOperations = 1 << 18;

    private const int KeysPerThread = 64;

    private KeyValueStore _sharded = null!;
    private GlobalLockStore _global = null!;
    private byte[][][] _keys = [];
    private byte[][][] _counters = [];
    private WorkerGang _setGang = null!;
    private WorkerGang _addGang = null!;
    private WorkerGang _churnGang = null!;

    /// <summary>Writer threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Shards of the sharded store (the default; other counts were measured to choose it).</summary>
    [Params(KeyValueStore.DefaultShardCount)]
    public int ShardCount { get; set; }

    /// <summary>Store design.</summary>
    [Params(StoreDesign.Sharded, StoreDesign.GlobalLock)]
    public StoreDesign Design { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _global = new GlobalLockStore();
        _sharded = new KeyValueStore(ShardCount);
        _keys = MakeKeys("k");
        _counters = MakeKeys("c");
        foreach (var key in _keys.SelectMany(k => k))
        {
            _sharded.Set(key, Frames.Value);
            _global.Set(key, Frames.Value);
        }

        foreach (var key in _counters.SelectMany(k => k))
        {
            _sharded.Set(key, "0"u8);
            _global.Set(key, "0"u8);
        }

        _setGang = new WorkerGang(Threads, SetLoop);
        _addGang = new WorkerGang(Threads, AddLoop);
        _churnGang = new WorkerGang(Threads, ChurnLoop);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // CPU time per operation over every run of the case (pilot and warm-up included): on this
        // shared machine the wall-clock ratio is mostly the neighbours' load, while CPU per operation
        // shows what a second thread costs each write. Two threads on two free cores would reach
        // 2 x (1-thread CPU/op) / (2-thread CPU/op) times one thread's throughput.
        foreach (var (name, gang) in new[] { ("Set", _setGang), ("Add", _addGang), ("Churn", _churnGang) })
        {
            if (gang.Runs > 0)
            {
                var perOp = (double)gang.CpuNanoseconds / (gang.Runs * (double)TotalOperations);
                Console.WriteLine($"// CPU per op: {name} Threads={Threads} Design={Design} ShardCount={ShardCount}: {perOp:F1} ns over {gang.Runs} runs");
            }
        }

        _setGang.Dispose();
        _addGang.Dispose();
        _churnGang.Dispose();
    }

    /// <summary>SET of a 64-byte value over an existing one, each thread on its own keys.</summary>
    [Benchmark(OperationsPerInvoke = TotalOperations)]
    public void Set() => _setGang.Run();

    /// <summary>ADD 1 to counters, each thread on its own keys.</summary>
    [Benchmark(OperationsPerInvoke = TotalOperations)]
    public void Add() => _addGang.Run();

    private void SetLoop(int thread)
    {
        var keys = _keys[thread];
        var count = TotalOperations / Threads;
        if (Design == StoreDesign.Sharded)
        {
            for (var i = 0; i < count; i++)
            {
                _sharded.Set(keys[i & (KeysPerThread - 1)], Frames.Value);
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                _global.Set(keys[i & (KeysPerThread - 1)], Frames.Value);
            }
        }
    }

    /// <summary>
    /// DELETE then SET of the same key, each thread on its own keys: both go through the key's shard
    /// lock (a key is created and removed under it), so this is the case the shard count decides.
    /// Allocates by design (a new key copy and cell per SET). The global-lock store has no DELETE,
    /// so it runs SETs only there, as a reference.
    /// </summary>
    [Benchmark(OperationsPerInvoke = TotalOperations)]
    public void Churn() => _churnGang.Run();

    private void ChurnLoop(int thread)
    {
        var keys = _keys[thread];
        var count = TotalOperations / Threads;
        if (Design == StoreDesign.Sharded)
        {
            for (var i = 0; i < count; i++)
            {
                var key = keys[i & (KeysPerThread - 1)];
                _sharded.Delete(key);
                _sharded.Set(key, Frames.Value);
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                _global.Set(keys[i & (KeysPerThread - 1)], Frames.Value);
            }
        }
    }

    private byte[][][] MakeKeys(string kind) =>
        [.. Enumerable.Range(0, Threads).Select(t => Enumerable.Range(0, KeysPerThread).Select(k => Encoding.ASCII.GetBytes($"/bench/contention/t{t}/{kind}{k:D3}")).ToArray())];

    private void AddLoop(int thread)
    {
        var keys = _counters[thread];
        var count = TotalOperations / Threads;
        if (Design == StoreDesign.Sharded)
        {
            for (var i = 0; i < count; i++)
            {
                _sharded.TryAdd(keys[i & (KeysPerThread - 1)], 1, out _);
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                _global.TryAdd(keys[i & (KeysPerThread - 1)], 1, out _);
            }
        }
    }
}
