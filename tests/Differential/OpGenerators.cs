using FsCheck;
using FsCheck.Fluent;

namespace TcpStore.Tests.Differential;

/// <summary>Random client-call sequences over a tiny key pool, so keys, queues and waits collide.</summary>
public static class OpGenerators
{
    private static readonly string[] KeyPool = ["a", "b", "c"];

    // Mostly stoll-parsable values (ADD keeps working), a few that are not (ADD then closes the connection).
    private static Gen<string> Value { get; } = Gen.Frequency(
        (12, Gen.Elements("", "1", "-7", " 12x", "007", "+3", "42")),
        (1, Gen.Elements("abc", "x y")));

    private static Gen<string> PoolKey { get; } = Gen.Elements(KeyPool);

    private static Gen<string[]> SomeKeys(int min) => Gen.Choose(min, 3).SelectMany(n => Gen.ArrayOf(PoolKey, n));

    private static ClientOp Op(OpKind kind, string[]? keys = null, string value = "", string desired = "", long delta = 0, int timeoutMs = 0, bool block = false, string[]? values = null) =>
        new(kind, keys ?? [], value, desired, delta, timeoutMs, block, values ?? []);

    /// <param name="queues">Include the libuv-only queue calls.</param>
    public static Gen<ClientOp> Call(bool queues)
    {
        var common = new List<(int, Gen<ClientOp>)>
        {
            (5, Gen.Zip(PoolKey, Value).Select(t => Op(OpKind.Set, [t.Item1], t.Item2))),
            (4, PoolKey.Select(k => Op(OpKind.Get, [k]))),
            (4, Gen.Zip(PoolKey, Gen.Elements(0L, 1L, -1L, 5L, 1000L, long.MaxValue, long.MinValue)).Select(t => Op(OpKind.Add, [t.Item1], delta: t.Item2))),
            (3, from k in PoolKey from e in Gen.Frequency((2, Gen.Constant("")), (3, Value)) from d in Value select Op(OpKind.CompareSet, [k], e, d)),
            (2, SomeKeys(0).Select(k => Op(OpKind.Check, k))),
            (3, Gen.Zip(SomeKeys(1), Gen.Frequency((6, Gen.Constant(-1)), (1, Gen.Constant(0)))).Select(t => Op(OpKind.Wait, t.Item1, timeoutMs: t.Item2))),
            (2, PoolKey.Select(k => Op(OpKind.Delete, [k]))),
            (2, Gen.Zip(PoolKey, Gen.Elements("", "1", "x")).Select(t => Op(OpKind.Append, [t.Item1], t.Item2))),
            (2, SomeKeys(1).Select(k => Op(OpKind.MultiGet, k))),
            (2, SomeKeys(1).SelectMany(k => Gen.ArrayOf(Value, k.Length).Select(v => Op(OpKind.MultiSet, k, values: v)))),
            (1, Gen.Constant(Op(OpKind.NumKeys))),
            (1, Gen.Constant(Op(OpKind.ListKeys))),
        };
        if (queues)
        {
            common.Add((3, Gen.Zip(PoolKey, Value).Select(t => Op(OpKind.QueuePush, [t.Item1], t.Item2))));
            common.Add((3, Gen.Zip(PoolKey, Gen.Elements(true, false)).Select(t => Op(OpKind.QueuePop, [t.Item1], block: t.Item2))));
            common.Add((1, PoolKey.Select(k => Op(OpKind.QueueLength, [k]))));
        }

        return Gen.Frequency(common);
    }

    public static Arbitrary<ClientOp[]> Sequences(bool queues, int maxLength) =>
        Arb.From(Gen.Choose(1, maxLength).SelectMany(n => Gen.ArrayOf(Call(queues), n)), ShrinkByDroppingOne);

    // Dropping calls is always safe: the runner re-derives which calls would block from the sequence itself.
    private static IEnumerable<ClientOp[]> ShrinkByDroppingOne(ClientOp[] ops)
    {
        for (var i = 0; i < ops.Length; i++)
        {
            yield return [.. ops[..i], .. ops[(i + 1)..]];
        }
    }
}
