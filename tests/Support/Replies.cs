using System.Buffers;
using TcpStore.Codec;

namespace TcpStore.Tests.Support;

/// <summary>Builds expected reply bytes by hand (little-endian, as PROTOCOL.md §1 specifies).</summary>
public static class Replies
{
    public static byte[] Int64(long value) => BitConverter.IsLittleEndian ? BitConverter.GetBytes(value) : throw new PlatformNotSupportedException();

    public static byte[] UInt32(uint value) => BitConverter.IsLittleEndian ? BitConverter.GetBytes(value) : throw new PlatformNotSupportedException();

    public static byte[] Blob(string text) => Blob(RawClient.Key(text));

    public static byte[] Blob(byte[] value) => [.. Int64(value.Length), .. value];

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Encode(params WireRequest[] requests)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var request in requests)
        {
            request.WriteTo(buffer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] StopWaiting => [Protocol.StopWaiting];

    public static byte[] WaitCanceled => [Protocol.WaitCanceled];
}
