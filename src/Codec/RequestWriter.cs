using System.Buffers;

namespace TcpStore.Codec;

/// <summary>
/// Encodes whole requests. Keys are written in wire form: the key prefix (for
/// example PyTorch's "/" prefix) followed by the key. Used by the client, the tests and the
/// load generator, so there is one encoder of the protocol.
/// </summary>
public static class RequestWriter
{
    /// <summary>VALIDATE with the protocol magic.</summary>
    public static void WriteValidate(IBufferWriter<byte> writer, uint magic = Protocol.ValidationMagic)
    {
        writer.WriteByte((byte)QueryType.Validate);
        writer.WriteUInt32(magic);
    }

    /// <summary>PING with a nonce.</summary>
    public static void WritePing(IBufferWriter<byte> writer, uint nonce)
    {
        writer.WriteByte((byte)QueryType.Ping);
        writer.WriteUInt32(nonce);
    }

    /// <summary>A command that carries nothing (GETNUMKEYS, CANCEL_WAIT, LIST_KEYS).</summary>
    public static void WriteBare(IBufferWriter<byte> writer, QueryType type)
    {
        writer.WriteByte((byte)type);
    }

    /// <summary>A command that carries one key (GET, DELETE_KEY, QUEUE_POP, QUEUE_LEN).</summary>
    public static void WriteKeyCommand(IBufferWriter<byte> writer, QueryType type, ReadOnlySpan<byte> keyPrefix, ReadOnlySpan<byte> key)
    {
        writer.WriteByte((byte)type);
        writer.WriteBlob(keyPrefix, key);
    }

    /// <summary>A command that carries a key and a value (SET, APPEND, QUEUE_PUSH).</summary>
    public static void WriteKeyValueCommand(IBufferWriter<byte> writer, QueryType type, ReadOnlySpan<byte> keyPrefix, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        writer.WriteByte((byte)type);
        writer.WriteBlob(keyPrefix, key);
        writer.WriteBlob(value);
    }

    /// <summary>COMPARE_SET.</summary>
    public static void WriteCompareSet(IBufferWriter<byte> writer, ReadOnlySpan<byte> keyPrefix, ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> desired)
    {
        writer.WriteByte((byte)QueryType.CompareSet);
        writer.WriteBlob(keyPrefix, key);
        writer.WriteBlob(expected);
        writer.WriteBlob(desired);
    }

    /// <summary>ADD.</summary>
    public static void WriteAdd(IBufferWriter<byte> writer, ReadOnlySpan<byte> keyPrefix, ReadOnlySpan<byte> key, long delta)
    {
        writer.WriteByte((byte)QueryType.Add);
        writer.WriteBlob(keyPrefix, key);
        writer.WriteInt64(delta);
    }

    /// <summary>The header of a multi-key command (CHECK, WAIT, MULTI_GET, MULTI_SET); follow it with the entries.</summary>
    public static void WriteMultiHeader(IBufferWriter<byte> writer, QueryType type, int count)
    {
        writer.WriteByte((byte)type);
        writer.WriteUInt64((ulong)count);
    }
}
