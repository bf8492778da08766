using BenchmarkDotNet.Attributes;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>The store's operations called directly (no parsing of the single-key ones, no session).</summary>
[MemoryDiagnoser]
public class StoreBenchmarks
{
    private readonly PooledBufferWriter _reply = new();
    private readonly KeyValueStore _store = new();
    private readonly Lock _lock = new();
    private byte[] _checkFrame = [];
    private byte[] _multiGetFrame = [];

    [GlobalSetup]
    public void Setup()
    {
        Frames.Populate(_store);
        _checkFrame = Frames.Build("Check");
        _multiGetFrame = Frames.Build("MultiGet8");
    }

    [GlobalCleanup]
    public void Cleanup() => _reply.Release();

    /// <summary>Lock-free GET of a 64-byte value into a reply buffer.</summary>
    [Benchmark]
    public int Get()
    {
        _reply.Clear();
        _store.WriteValue(Frames.Key, _reply);
        return _reply.WrittenCount;
    }

    /// <summary>
    /// GET with an (uncontended) lock around it: what taking the store's write lock in GET would add
    /// on top of <see cref="Get"/>, to weigh against the seqlock's fence.
    /// </summary>
    [Benchmark]
    public int GetUnderLock()
    {
        _reply.Clear();
        lock (_lock)
        {
            _store.WriteValue(Frames.Key, _reply);
        }

        return _reply.WrittenCount;
    }

    /// <summary>GET of a missing key (empty reply).</summary>
    [Benchmark]
    public int GetMissing()
    {
        _reply.Clear();
        _store.WriteValue("/bench/absent"u8, _reply);
        return _reply.WrittenCount;
    }

    /// <summary>SET of a 64-byte value over an existing one.</summary>
    [Benchmark]
    public void Set() => _store.Set(Frames.Key, Frames.Value);

    /// <summary>ADD 1 to a counter.</summary>
    [Benchmark]
    public long Add()
    {
        _store.TryAdd(Frames.CounterKey, 1, out var result);
        return result;
    }

    /// <summary>COMPARE_SET that matches (value unchanged).</summary>
    [Benchmark]
    public int CompareSet()
    {
        _reply.Clear();
        _store.CompareSet(Frames.Key, Frames.Value, Frames.Value, _reply);
        return _reply.WrittenCount;
    }

    /// <summary>CHECK of one present key (includes parsing the key list).</summary>
    [Benchmark]
    public bool Check()
    {
        var reader = new RequestReader(_checkFrame, CodecLimits.Default);
        reader.TryRead(out var request);
        return _store.Check(request.Keys);
    }

    /// <summary>MULTI_GET of eight present keys (includes parsing the key list).</summary>
    [Benchmark]
    public int MultiGet8()
    {
        _reply.Clear();
        var reader = new RequestReader(_multiGetFrame, CodecLimits.Default);
        reader.TryRead(out var request);
        _store.MultiGet(request.Keys, _reply);
        return _reply.WrittenCount;
    }

    /// <summary>DELETE then SET of a fresh key: the cost of creating a key (this one allocates by design).</summary>
    [Benchmark]
    public void DeleteAndRecreate()
    {
        _store.Delete("/bench/churn"u8);
        _store.Set("/bench/churn"u8, Frames.Value);
    }
}
