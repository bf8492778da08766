using BenchmarkDotNet.Attributes;
using TcpStore.Codec;

namespace TcpStore.Bench.Micro;

/// <summary>Parsing one request and writing its reply, per request kind; no store involved.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly PooledBufferWriter _writer = new();
    private byte[] _frame = [];

    /// <summary>The request kind.</summary>
    [ParamsSource(nameof(AllKinds))]
    public string Kind { get; set; } = "Get";

    /// <summary>Every kind in <see cref="Frames.Kinds"/>.</summary>
    public static IEnumerable<string> AllKinds => Frames.Kinds;

    [GlobalSetup]
    public void Setup() => _frame = Frames.Build(Kind);

    [GlobalCleanup]
    public void Cleanup() => _writer.Release();

    /// <summary>Parses every request in the frame (SET+CHECK is two requests).</summary>
    [Benchmark]
    public int Parse()
    {
        var reader = new RequestReader(_frame, CodecLimits.Default);
        var parsed = 0;
        while (reader.TryRead(out var request) == ParseStatus.Complete)
        {
            parsed += (int)request.Type;
        }

        return parsed;
    }

    /// <summary>Encodes the request again (the client and load generator path).</summary>
    [Benchmark]
    public int WriteRequest()
    {
        _writer.Clear();
        var reader = new RequestReader(_frame, CodecLimits.Default);
        reader.TryRead(out var request);
        switch (request.Type)
        {
            case QueryType.Get:
                RequestWriter.WriteKeyCommand(_writer, QueryType.Get, default, request.Key);
                break;
            case QueryType.Set:
                RequestWriter.WriteKeyValueCommand(_writer, QueryType.Set, default, request.Key, request.Value);
                break;
            case QueryType.Add:
                RequestWriter.WriteAdd(_writer, default, request.Key, request.Delta);
                break;
            case QueryType.CompareSet:
                RequestWriter.WriteCompareSet(_writer, default, request.Key, request.Value, request.Desired);
                break;
            case QueryType.Ping:
                RequestWriter.WritePing(_writer, request.Word);
                break;
            default:
                RequestWriter.WriteMultiHeader(_writer, request.Type, request.Keys.Count);
                foreach (var entry in request.Keys)
                {
                    _writer.WriteBlob(entry.Key);
                    if (request.Keys.HasValues)
                    {
                        _writer.WriteBlob(entry.Value);
                    }
                }

                break;
        }

        return _writer.WrittenCount;
    }

    /// <summary>Writes the reply the server sends for this kind (blob, integer or byte).</summary>
    [Benchmark]
    public int WriteReply()
    {
        _writer.Clear();
        switch (Kind)
        {
            case "Get":
            case "CompareSet":
                _writer.WriteBlob(Frames.Value);
                break;
            case "MultiGet8":
                for (var i = 0; i < 8; i++)
                {
                    _writer.WriteBlob(Frames.Value);
                }

                break;
            case "Add":
                _writer.WriteInt64(42);
                break;
            case "Ping":
                _writer.WriteUInt32(12345);
                break;
            case "MultiSet8":
                break;
            default:
                _writer.WriteByte(Protocol.CheckReady);
                break;
        }

        return _writer.WrittenCount;
    }
}
