using System.Text;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>The operation a load run issues.</summary>
public enum LoadOp
{
    /// <summary>GET of a random present key.</summary>
    Get,

    /// <summary>
    /// SET of a random key followed by CHECK in the same write (SET has no reply); one op. To Redis:
    /// SET alone, whose reply is <c>+OK</c>.
    /// </summary>
    Set,

    /// <summary>ADD 1 to a random counter (to Redis: <c>INCRBY key 1</c>).</summary>
    Add,

    /// <summary>GET or SET+CHECK, chosen per request by <see cref="Workload.GetRatio"/>.</summary>
    Mixed,
}

/// <summary>One row of the load table: what to send, how many connections, how deep the pipeline.</summary>
public sealed record Workload(LoadOp Op, int Connections, int Depth, int Keys, int ValueSize, double GetRatio = 0.8)
{
    /// <summary>The rows of the reference table.</summary>
    public static readonly string DefaultTable = "get:16:1 get:256:16 get:1024:16 set:16:16 add:256:1 mixed:1024:16";

    /// <summary>Parses <c>op:connections:depth</c>.</summary>
    public static Workload Parse(string text, int keys, int valueSize, double getRatio)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':');
        if (parts.Length != 3 || !Enum.TryParse<LoadOp>(parts[0], ignoreCase: true, out var op)
            || !int.TryParse(parts[1], out var conns) || !int.TryParse(parts[2], out var depth) || conns < 1 || depth < 1)
        {
            throw new FormatException($"workload '{text}' is not op:connections:depth with op in get|set|add|mixed");
        }

        return new Workload(op, conns, depth, keys, valueSize, getRatio);
    }

    /// <summary>The row label, as in the reference table.</summary>
    public string Label => Op == LoadOp.Mixed
        ? $"mixed {Math.Round(GetRatio * 100)}/{Math.Round((1 - GetRatio) * 100)}, {Connections}x{Depth}"
        : $"{Op.ToString().ToLowerInvariant()} {Connections}x{Depth}";
}

/// <summary>Every request a run can send, encoded once up front so the loop only copies bytes.</summary>
public sealed class RequestCatalog
{
    private RequestCatalog(RequestWire wire, byte[][] gets, byte[][] sets, byte[][] adds, byte[] value)
    {
        Wire = wire;
        Gets = gets;
        Sets = sets;
        Adds = adds;
        Value = value;
    }

    /// <summary>The protocol the frames are in.</summary>
    public RequestWire Wire { get; }

    /// <summary>GET frame per key.</summary>
    public byte[][] Gets { get; }

    /// <summary>SET+CHECK frame per key (RESP: SET alone).</summary>
    public byte[][] Sets { get; }

    /// <summary>ADD 1 frame per counter.</summary>
    public byte[][] Adds { get; }

    /// <summary>The value every SET writes.</summary>
    public byte[] Value { get; }

    /// <summary>Builds the frames for <paramref name="workload"/>'s key count and value size, in <paramref name="wire"/>'s protocol.</summary>
    public static RequestCatalog Build(Workload workload, RequestWire wire = RequestWire.TcpStore)
    {
        ArgumentNullException.ThrowIfNull(workload);
        var value = new byte[workload.ValueSize];
        for (var i = 0; i < value.Length; i++)
        {
            value[i] = (byte)('A' + (i % 26));
        }

        var gets = new byte[workload.Keys][];
        var sets = new byte[workload.Keys][];
        var adds = new byte[workload.Keys][];
        if (wire == RequestWire.Resp)
        {
            // The same keys and value; SET alone (Redis replies +OK to it, so it needs no CHECK),
            // and ADD 1 as INCRBY 1.
            for (var k = 0; k < workload.Keys; k++)
            {
                var key = KeyName("key", k);
                gets[k] = RespRequest.Encode("GET"u8.ToArray(), key);
                sets[k] = RespRequest.Encode("SET"u8.ToArray(), key, value);
                adds[k] = RespRequest.Encode("INCRBY"u8.ToArray(), KeyName("ctr", k), "1"u8.ToArray());
            }

            return new RequestCatalog(wire, gets, sets, adds, value);
        }

        using var writer = new PooledBufferWriter();
        for (var k = 0; k < workload.Keys; k++)
        {
            var key = KeyName("key", k);
            writer.Clear();
            RequestWriter.WriteKeyCommand(writer, QueryType.Get, default, key);
            gets[k] = writer.WrittenSpan.ToArray();

            writer.Clear();
            RequestWriter.WriteKeyValueCommand(writer, QueryType.Set, default, key, value);
            RequestWriter.WriteMultiHeader(writer, QueryType.Check, 1);
            writer.WriteBlob(key);
            sets[k] = writer.WrittenSpan.ToArray();

            writer.Clear();
            RequestWriter.WriteAdd(writer, default, KeyName("ctr", k), 1);
            adds[k] = writer.WrittenSpan.ToArray();
        }

        return new RequestCatalog(wire, gets, sets, adds, value);
    }

    /// <summary>Wire key <c>/bench/NAME:00000001</c> (PyTorch clients prefix every key with "/").</summary>
    public static byte[] KeyName(string name, int index) => Encoding.ASCII.GetBytes($"/bench/{name}:{index:D8}");
}
