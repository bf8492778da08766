using System.Buffers;
using System.Buffers.Binary;

namespace TcpStore.Codec;

/// <summary>
/// Little-endian primitives for writing frames (requests and responses) into any
/// <see cref="IBufferWriter{T}"/>. They write straight into the writer's memory and allocate nothing.
/// </summary>
public static class FrameWriter
{
    /// <summary>Writes one byte (a command code or a one-byte reply).</summary>
    public static void WriteByte(this IBufferWriter<byte> writer, byte value)
    {
        writer.GetSpan(1)[0] = value;
        writer.Advance(1);
    }

    /// <summary>Writes a 32-bit little-endian integer (VALIDATE magic, PING nonce).</summary>
    public static void WriteUInt32(this IBufferWriter<byte> writer, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(writer.GetSpan(sizeof(uint)), value);
        writer.Advance(sizeof(uint));
    }

    /// <summary>Writes a 64-bit little-endian signed integer.</summary>
    public static void WriteInt64(this IBufferWriter<byte> writer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(writer.GetSpan(sizeof(long)), value);
        writer.Advance(sizeof(long));
    }

    /// <summary>Writes a 64-bit little-endian unsigned integer (lengths and counts).</summary>
    public static void WriteUInt64(this IBufferWriter<byte> writer, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(writer.GetSpan(sizeof(ulong)), value);
        writer.Advance(sizeof(ulong));
    }

    /// <summary>Writes a length-prefixed byte string (<c>u64 len</c> then the bytes).</summary>
    public static void WriteBlob(this IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        var span = writer.GetSpan(sizeof(ulong) + value.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span, (ulong)value.Length);
        value.CopyTo(span[sizeof(ulong)..]);
        writer.Advance(sizeof(ulong) + value.Length);
    }

    /// <summary>Writes a length-prefixed byte string made of <paramref name="prefix"/> followed by <paramref name="value"/>.</summary>
    public static void WriteBlob(this IBufferWriter<byte> writer, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> value)
    {
        var length = prefix.Length + value.Length;
        var span = writer.GetSpan(sizeof(ulong) + length);
        BinaryPrimitives.WriteUInt64LittleEndian(span, (ulong)length);
        prefix.CopyTo(span[sizeof(ulong)..]);
        value.CopyTo(span[(sizeof(ulong) + prefix.Length)..]);
        writer.Advance(sizeof(ulong) + length);
    }
}
