using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;

namespace TcpStore.Tests.Support;

/// <summary>FsCheck generators for wire-level data: byte strings, full-range integers, whole requests.</summary>
public static class WireGenerators
{
    public static Gen<byte> AnyByte { get; } = Gen.Choose(0, 255).Select(i => (byte)i);

    /// <summary>Every 64-bit pattern is reachable; edge values are over-represented.</summary>
    public static Gen<long> AnyLong { get; } = Gen.Frequency(
        (4, Gen.Four(Gen.Choose(0, 0xFFFF)).Select(t => (long)(((ulong)(uint)t.Item1 << 48) | ((ulong)(uint)t.Item2 << 32) | ((ulong)(uint)t.Item3 << 16) | (uint)t.Item4))),
        (2, Gen.Choose(-1000, 1000).Select(i => (long)i)),
        (1, Gen.Elements(long.MinValue, long.MaxValue, long.MinValue + 1, long.MaxValue - 1, 0L, -1L, 1L)));

    public static Gen<uint> AnyUInt { get; } = Gen.Two(Gen.Choose(0, 0xFFFF)).Select(t => ((uint)t.Item1 << 16) | (uint)t.Item2);

    /// <summary>Mostly short byte strings (empty included), sometimes a few hundred bytes.</summary>
    public static Gen<byte[]> Blob { get; } = Gen.Frequency(
        (6, Gen.Choose(0, 12).SelectMany(n => Gen.ArrayOf(AnyByte, n))),
        (1, Gen.Choose(0, 600).SelectMany(n => Gen.ArrayOf(AnyByte, n))));

    public static Gen<byte[][]> KeyArray { get; } = Gen.Choose(0, 5).SelectMany(n => Gen.ArrayOf(Blob, n));

    /// <summary>Any well-formed request of any type (VALIDATE with any magic; the reader does not judge magic).</summary>
    public static Gen<WireRequest> Request { get; } = Gen.OneOf(
        AnyUInt.Select(m => WireRequest.Validate(m)),
        AnyUInt.Select(WireRequest.Ping),
        Gen.Elements(QueryType.GetNumKeys, QueryType.CancelWait, QueryType.ListKeys).Select(WireRequest.Bare),
        Gen.Zip(Gen.Elements(QueryType.Get, QueryType.DeleteKey, QueryType.QueuePop, QueryType.QueueLength), Blob)
            .Select(t => WireRequest.KeyOnly(t.Item1, t.Item2)),
        from type in Gen.Elements(QueryType.Set, QueryType.Append, QueryType.QueuePush)
        from key in Blob
        from value in Blob
        select WireRequest.KeyValue(type, key, value),
        Gen.Three(Blob).Select(t => WireRequest.CompareSet(t.Item1, t.Item2, t.Item3)),
        Gen.Zip(Blob, AnyLong).Select(t => WireRequest.Add(t.Item1, t.Item2)),
        Gen.Zip(Gen.Elements(QueryType.Check, QueryType.Wait, QueryType.MultiGet), KeyArray)
            .Select(t => WireRequest.Multi(t.Item1, t.Item2)),
        KeyArray.SelectMany(keys => Gen.ArrayOf(Blob, keys.Length).Select(values => WireRequest.MultiSet(keys, values))));

    /// <summary>
    /// A request with one field exactly at a limit of <paramref name="limits"/> (<paramref name="overBy"/> 0) or
    /// just past it (1): a key, a value, CompareSet's expected or desired value, one key or value inside a
    /// multi-key request, or the key count itself (a full key list). The other fields stay within the limits,
    /// so a past-limit request has exactly one error: <c>Expected</c>.
    /// </summary>
    public static Gen<(WireRequest Request, ProtocolError Expected)> AtLimit(CodecLimits limits, int overBy)
    {
        var keyLength = (int)limits.MaxKeyLength + overBy;
        var valueLength = (int)limits.MaxValueLength + overBy;
        var count = (int)limits.MaxKeysPerRequest + overBy;
        var longKey = Gen.ArrayOf(AnyByte, keyLength);
        var longValue = Gen.ArrayOf(AnyByte, valueLength);
        var shortKey = Gen.Choose(0, (int)Math.Min(limits.MaxKeyLength, 12)).SelectMany(n => Gen.ArrayOf(AnyByte, n));
        var shortValue = Gen.Choose(0, (int)Math.Min(limits.MaxValueLength, 12)).SelectMany(n => Gen.ArrayOf(AnyByte, n));
        var multiTypes = Gen.Elements(QueryType.Check, QueryType.Wait, QueryType.MultiGet);
        var fewKeys = Gen.Choose(1, (int)Math.Max(1, Math.Min(limits.MaxKeysPerRequest, 4))).SelectMany(n => Gen.ArrayOf(shortKey, n));
        return Gen.OneOf(
            from type in Gen.Elements(QueryType.Get, QueryType.DeleteKey, QueryType.QueuePop, QueryType.QueueLength)
            from key in longKey
            select (WireRequest.KeyOnly(type, key), ProtocolError.KeyTooLong),
            from type in Gen.Elements(QueryType.Set, QueryType.Append, QueryType.QueuePush)
            from key in longKey
            from value in shortValue
            select (WireRequest.KeyValue(type, key, value), ProtocolError.KeyTooLong),
            from type in Gen.Elements(QueryType.Set, QueryType.Append, QueryType.QueuePush)
            from key in shortKey
            from value in longValue
            select (WireRequest.KeyValue(type, key, value), ProtocolError.ValueTooLong),
            from key in longKey
            from delta in AnyLong
            select (WireRequest.Add(key, delta), ProtocolError.KeyTooLong),
            from key in shortKey
            from expected in longValue
            from desired in shortValue
            select (WireRequest.CompareSet(key, expected, desired), ProtocolError.ValueTooLong),
            from key in shortKey
            from expected in shortValue
            from desired in longValue
            select (WireRequest.CompareSet(key, expected, desired), ProtocolError.ValueTooLong),
            from type in multiTypes
            from keys in Gen.ArrayOf(shortKey, count)
            select (WireRequest.Multi(type, keys), ProtocolError.TooManyKeys),
            from type in multiTypes
            from keys in fewKeys
            from at in Gen.Choose(0, keys.Length - 1)
            from key in longKey
            select (WireRequest.Multi(type, Replace(keys, at, key)), ProtocolError.KeyTooLong),
            from keys in Gen.ArrayOf(shortKey, count)
            from values in Gen.ArrayOf(shortValue, count)
            select (WireRequest.MultiSet(keys, values), ProtocolError.TooManyKeys),
            from keys in fewKeys
            from values in Gen.ArrayOf(shortValue, keys.Length)
            from at in Gen.Choose(0, keys.Length - 1)
            from value in longValue
            select (WireRequest.MultiSet(keys, Replace(values, at, value)), ProtocolError.ValueTooLong));
    }

    private static byte[][] Replace(byte[][] items, int at, byte[] item)
    {
        var copy = (byte[][])items.Clone();
        copy[at] = item;
        return copy;
    }

    /// <summary>Sorted distinct cut positions strictly inside a buffer of <paramref name="length"/> bytes.</summary>
    public static Gen<int[]> SplitPoints(int length) => length <= 1
        ? Gen.Constant(Array.Empty<int>())
        : Gen.ListOf(Gen.Choose(1, length - 1)).Select(cuts => cuts.Distinct().Order().ToArray());
}
