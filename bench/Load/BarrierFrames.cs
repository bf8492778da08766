using System.Buffers;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>The requests of one barrier, encoded once so the rank loops only copy bytes.</summary>
public sealed class BarrierFrames
{
    private static readonly byte[] CounterKey = "/bench/barrier/count"u8.ToArray();
    private static readonly byte[] DoneKey = "/bench/barrier/done"u8.ToArray();

    /// <summary>The shared frames.</summary>
    public static BarrierFrames Instance { get; } = new();

    private BarrierFrames()
    {
        using var writer = new PooledBufferWriter();
        RequestWriter.WriteValidate(writer);
        RequestWriter.WriteAdd(writer, default, CounterKey, 1);
        ValidateAndAdd = writer.WrittenSpan.ToArray();

        writer.Clear();
        RequestWriter.WriteMultiHeader(writer, QueryType.Wait, 1);
        writer.WriteBlob(DoneKey);
        Wait = writer.WrittenSpan.ToArray();

        writer.Clear();
        RequestWriter.WriteKeyValueCommand(writer, QueryType.Set, default, DoneKey, "1"u8);
        writer.Write(Wait);
        SetAndWait = writer.WrittenSpan.ToArray();
    }

    /// <summary>What every rank sends first, in one write: VALIDATE, then ADD 1 to the counter (reply: the new count).</summary>
    public byte[] ValidateAndAdd { get; }

    /// <summary>What a rank that saw a count below N sends: WAIT on the done key (reply: one STOP_WAITING byte).</summary>
    public byte[] Wait { get; }

    /// <summary>What the rank that saw N sends: SET the done key, then WAIT on it like the others.</summary>
    public byte[] SetAndWait { get; }
}
