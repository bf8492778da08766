using BenchmarkDotNet.Attributes;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>
/// A pipelined read of 16 GETs, or of 8 SET+CHECK pairs, over a store of many keys chosen at random,
/// the way `bench load` drives the server: unlike <see cref="SessionBenchmarks"/> (one hot key), every
/// lookup may miss the caches. Time per read. It judged a look-ahead prefetch of a batch's keys
/// (docs/performance.md, "What did not help"): faster at 1,000,000 keys, slower at 10,000.
/// </summary>
[MemoryDiagnoser]
public class ManyKeysBenchmarks
{
    private const int Batches = 1024;
    private readonly PooledBufferWriter _sending = new();
    private Session _session = null!;
    private byte[][] _batches = [];
    private int _next;

    /// <summary>Keys in the store (10,000 is `bench load`'s key space).</summary>
    [Params(10_000, 1_000_000)]
    public int Keys { get; set; } = 10_000;

    /// <summary>What one read holds: "Get" (16 GETs) or "SetCheck" (8 SET+CHECK pairs).</summary>
    [Params("Get", "SetCheck")]
    public string Kind { get; set; } = "Get";

    [GlobalSetup]
    public void Setup()
    {
        var store = new KeyValueStore();
        for (var i = 0; i < Keys; i++)
        {
            store.Set(KeyOf(i), Frames.Value);
        }

        _session = Frames.ValidatedSession(store);

        var random = new Random(1234);
        _batches = new byte[Batches][];
        for (var b = 0; b < Batches; b++)
        {
            var writer = new PooledBufferWriter();
            for (var r = 0; r < 16; r++)
            {
                var key = KeyOf(random.Next(Keys));
                if (Kind == "Get")
                {
                    RequestWriter.WriteKeyCommand(writer, QueryType.Get, default, key);
                }
                else
                {
                    RequestWriter.WriteKeyValueCommand(writer, QueryType.Set, default, key, Frames.Value);
                    RequestWriter.WriteMultiHeader(writer, QueryType.Check, 1);
                    writer.WriteBlob(key);
                    r++;
                }
            }

            _batches[b] = writer.WrittenSpan.ToArray();
            writer.Release();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _sending.Release();
    }

    /// <summary>Processes one read of 16 requests and takes the replies for sending.</summary>
    [Benchmark]
    public int ProcessAndTakeOutput()
    {
        var batch = _batches[_next];
        _next = (_next + 1) & (Batches - 1);
        return Frames.ProcessRead(_session, batch, _sending);
    }

    private static byte[] KeyOf(int i) => System.Text.Encoding.ASCII.GetBytes($"/bench/key:{i:D8}");
}
