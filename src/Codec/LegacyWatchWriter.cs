using System.Buffers;

namespace TcpStore.Codec;

/// <summary>Encodes the unsolicited WATCH_KEY notification of the 1.13 protocol.</summary>
public static class LegacyWatchWriter
{
    /// <summary>
    /// <c>u8 change, str key, bytes old, bytes new</c>: a deletion carries an empty new value and a
    /// creation an empty old value, as the 1.13 server sent them.
    /// </summary>
    public static void WriteNotification(IBufferWriter<byte> writer, KeyChange change, ReadOnlySpan<byte> key, ReadOnlySpan<byte> oldValue, ReadOnlySpan<byte> newValue)
    {
        writer.WriteByte((byte)change);
        writer.WriteBlob(key);
        writer.WriteBlob(oldValue);
        writer.WriteBlob(newValue);
    }
}
