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

    /// <summary>Sorted distinct cut positions strictly inside a buffer of <paramref name="length"/> bytes.</summary>
    public static Gen<int[]> SplitPoints(int length) => length <= 1
        ? Gen.Constant(Array.Empty<int>())
        : Gen.ListOf(Gen.Choose(1, length - 1)).Select(cuts => cuts.Distinct().Order().ToArray());
}
