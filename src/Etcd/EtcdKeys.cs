using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;

namespace TcpStore.Etcd;

/// <summary>
/// How the store is laid out in etcd under the prefix <c>P</c>:
/// map key <c>k</c> is <c>P "k" k</c>; an item of queue <c>q</c> is <c>P "q" len(q) q id</c> (u32
/// big-endian length, so no queue's items fall inside another queue's range; items are ordered by
/// their create revision, the id only makes the key unique); the idempotence marker of one
/// connection is <c>P "m" front-end connection</c>. GETNUMKEYS and LIST_KEYS count the map range only.
/// </summary>
internal sealed class EtcdKeys
{
    private const byte MapTag = (byte)'k';
    private const byte QueueTag = (byte)'q';
    private const byte MarkerTag = (byte)'m';
    private readonly byte[] _prefix;

    public EtcdKeys(string prefix)
    {
        _prefix = Encoding.UTF8.GetBytes(prefix);
        Prefix = ByteString.CopyFrom(_prefix);
        PrefixEnd = RangeEnd(_prefix);
        MapStart = Tagged(MapTag, []);
        MapEnd = RangeEnd(MapStart.ToByteArray());
    }

    /// <summary>Start of everything this store owns.</summary>
    public ByteString Prefix { get; }

    /// <summary>End (exclusive) of everything this store owns.</summary>
    public ByteString PrefixEnd { get; }

    /// <summary>Start of the map's keys.</summary>
    public ByteString MapStart { get; }

    /// <summary>End (exclusive) of the map's keys.</summary>
    public ByteString MapEnd { get; }

    public ByteString Map(ReadOnlySpan<byte> key) => Tagged(MapTag, key);

    public ByteString QueueStart(ReadOnlySpan<byte> name)
    {
        var bytes = new byte[_prefix.Length + 1 + sizeof(uint) + name.Length];
        WriteQueueHead(bytes, name);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    public static ByteString RangeEnd(ByteString start) => RangeEnd(start.Span);

    public ByteString QueueItem(ReadOnlySpan<byte> name, ulong frontEnd, ulong sequence)
    {
        var head = _prefix.Length + 1 + sizeof(uint) + name.Length;
        var bytes = new byte[head + 2 * sizeof(ulong)];
        WriteQueueHead(bytes, name);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(head), frontEnd);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(head + sizeof(ulong)), sequence);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    public ByteString Marker(ulong frontEnd, long connection)
    {
        Span<byte> id = stackalloc byte[2 * sizeof(ulong)];
        BinaryPrimitives.WriteUInt64BigEndian(id, frontEnd);
        BinaryPrimitives.WriteInt64BigEndian(id[sizeof(ulong)..], connection);
        return Tagged(MarkerTag, id);
    }

    /// <summary>The map key of an etcd key in the map range (the caller checked <see cref="IsMap"/>).</summary>
    public ReadOnlySpan<byte> MapKeyOf(ByteString etcdKey) => etcdKey.Span[(_prefix.Length + 1)..];

    public bool IsMap(ReadOnlySpan<byte> etcdKey) =>
        etcdKey.Length > _prefix.Length && etcdKey[_prefix.Length] == MapTag && etcdKey.StartsWith(_prefix);

    /// <summary>The queue name of a queue item's etcd key, or false for any other key.</summary>
    public bool TryQueueNameOf(ReadOnlySpan<byte> etcdKey, out ReadOnlySpan<byte> name)
    {
        name = default;
        var head = _prefix.Length + 1 + sizeof(uint);
        if (etcdKey.Length < head || etcdKey[_prefix.Length] != QueueTag || !etcdKey.StartsWith(_prefix))
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(etcdKey[(_prefix.Length + 1)..]);
        if (length > (uint)(etcdKey.Length - head))
        {
            return false;
        }

        name = etcdKey.Slice(head, (int)length);
        return true;
    }

    private static ByteString RangeEnd(ReadOnlySpan<byte> start)
    {
        // The smallest key greater than every key that starts with 'start'.
        var end = start.ToArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] != 0xff)
            {
                end[i]++;
                return UnsafeByteOperations.UnsafeWrap(end.AsSpan(0, i + 1).ToArray());
            }
        }

        // All 0xff (or empty): everything from 'start' on, which etcd spells as the single zero byte.
        return UnsafeByteOperations.UnsafeWrap(new byte[] { 0 });
    }

    private ByteString Tagged(byte tag, ReadOnlySpan<byte> rest)
    {
        var bytes = new byte[_prefix.Length + 1 + rest.Length];
        _prefix.CopyTo(bytes, 0);
        bytes[_prefix.Length] = tag;
        rest.CopyTo(bytes.AsSpan(_prefix.Length + 1));
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    private void WriteQueueHead(Span<byte> bytes, ReadOnlySpan<byte> name)
    {
        _prefix.CopyTo(bytes);
        bytes[_prefix.Length] = QueueTag;
        BinaryPrimitives.WriteUInt32BigEndian(bytes[(_prefix.Length + 1)..], (uint)name.Length);
        name.CopyTo(bytes[(_prefix.Length + 1 + sizeof(uint))..]);
    }
}
