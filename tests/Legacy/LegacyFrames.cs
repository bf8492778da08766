using System.Buffers;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Legacy;

/// <summary>Encodes requests in a pre-2.2 table: the 2.2 layout with the table's code byte.</summary>
public static class LegacyFrames
{
    public static byte[] Encode(LegacyProtocol table, params WireRequest[] requests)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var request in requests)
        {
            var start = buffer.WrittenCount;
            request.WriteTo(buffer);
            if (!LegacyCodes.TryEncode(table, request.Type, out var code))
            {
                throw new ArgumentException($"{request.Type} has no code in the {table} table");
            }

            // The modern code byte is the first of the frame; only it differs.
            var written = buffer.WrittenSpan.ToArray();
            written[start] = code;
            buffer.Clear();
            buffer.Write(written);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The 1.13 watch notification: change, key, old value, new value.</summary>
    public static byte[] Notification(KeyChange change, string key, string oldValue, string newValue) =>
        [(byte)change, .. Replies.Blob(key), .. Replies.Blob(oldValue), .. Replies.Blob(newValue)];

    public static byte[] K(string text) => RawClient.Key(text);
}
