using BenchmarkDotNet.Attributes;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>
/// The whole request path without sockets: bytes in (<see cref="Session.Process"/>) to bytes out
/// (<see cref="Session.TakeOutput"/>), as the connection runs it for one read. Depth 1 is one request
/// per read; depth 16 is a pipelined read of 16 requests. Allocated bytes are per request.
/// </summary>
[MemoryDiagnoser]
public class SessionBenchmarks
{
    private readonly PooledBufferWriter _sending = new();
    private KeyValueStore _store = new();
    private Session _session = null!;
    private byte[] _batch = [];

    /// <summary>The request kind.</summary>
    [ParamsSource(nameof(AllKinds))]
    public string Kind { get; set; } = "Get";

    /// <summary>Requests per read.</summary>
    [Params(1, 16)]
    public int Depth { get; set; } = 1;

    /// <summary>Every kind in <see cref="Frames.Kinds"/>.</summary>
    public static IEnumerable<string> AllKinds => Frames.Kinds;

    [GlobalSetup]
    public void Setup()
    {
        _store = new KeyValueStore();
        Frames.Populate(_store);
        // As the server configures it: pre-2.2 detection on (the default table); a VALIDATE opening is 2.2+.
        _session = Frames.ValidatedSession(_store, LegacyProtocol.Torch113);

        _batch = Frames.Build(Kind, Depth);
        // Check the batch really runs clean before timing it.
        var result = _session.Process(_batch);
        if (result.Error != ProtocolError.None || result.Consumed != _batch.Length)
        {
            throw new InvalidOperationException($"{Kind} batch failed: {result}");
        }

        _session.TakeOutput(_sending);
        _sending.Clear();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _sending.Release();
    }

    /// <summary>Processes one read of <see cref="Depth"/> requests and takes the replies for sending.</summary>
    [Benchmark]
    public int ProcessAndTakeOutput() => Frames.ProcessRead(_session, _batch, _sending);
}
