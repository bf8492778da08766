using System.Buffers.Binary;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Frames the shared RawClient helpers do not build, including deliberately malformed ones.</summary>
public static class RawClientFrames
{
    public static byte[] Validate(uint magic = Protocol.ValidationMagic) => RawClient.Frame(w => RequestWriter.WriteValidate(w, magic));

    public static byte[] Ping(uint nonce) => RawClient.Frame(w => RequestWriter.WritePing(w, nonce));

    public static byte[] Bare(byte code) => [code];

    /// <summary>A command byte followed by a raw 8-byte length (or count) and nothing else.</summary>
    public static byte[] WithLength(QueryType type, ulong length)
    {
        var frame = new byte[9];
        frame[0] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(1), length);
        return frame;
    }

    /// <summary>SET with a valid key and a raw value length (the value bytes are not sent).</summary>
    public static byte[] SetWithValueLength(string key, ulong length)
    {
        var keyBytes = RawClient.Key(key);
        var frame = RawClient.Frame(w =>
        {
            w.WriteByte((byte)QueryType.Set);
            w.WriteBlob(keyBytes);
            w.WriteUInt64(length);
        });
        return frame;
    }

    /// <summary>COMPARE_SET with a valid key and expected value and a raw desired length.</summary>
    public static byte[] CompareSetWithDesiredLength(string key, ulong length) => RawClient.Frame(w =>
    {
        w.WriteByte((byte)QueryType.CompareSet);
        w.WriteBlob(RawClient.Key(key));
        w.WriteBlob([]);
        w.WriteUInt64(length);
    });

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
