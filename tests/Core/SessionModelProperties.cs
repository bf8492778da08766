using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary>
/// Several sessions on one store, driven with encoded requests (pipelined, split at random points,
/// disconnects in between), against <see cref="StoreModel"/>: every reply byte and the final state
/// (keys, values, queues, wait registrations) must be identical. Each session processes on its own
/// thread (as connections of different event loops do), and the store has 1, 2, 16 or 64 shards, so
/// the few keys of the pool fall on one shard or on several.
/// </summary>
public sealed class SessionModelProperties
{
    private const int Slots = 3;

    private static readonly byte[][] KeyPool = ["a"u8.ToArray(), "b"u8.ToArray(), "q"u8.ToArray(), []];

    private static readonly byte[][] ValuePool =
    [
        [], "1"u8.ToArray(), "-7"u8.ToArray(), " 12x"u8.ToArray(), "abc"u8.ToArray(), "9223372036854775807"u8.ToArray(), "+0"u8.ToArray(),
    ];

    private static Gen<byte[]> PoolKey { get; } = Gen.Elements(KeyPool);

    private static Gen<byte[]> PoolValue { get; } = Gen.Frequency((5, Gen.Elements(ValuePool)), (1, WireGenerators.Blob));

    private static Gen<byte[][]> PoolKeys { get; } = Gen.Choose(0, 3).SelectMany(n => Gen.ArrayOf(PoolKey, n));

    private static Gen<WireRequest> Op { get; } = Gen.Frequency(
        (4, Gen.Zip(PoolKey, PoolValue).Select(t => WireRequest.KeyValue(QueryType.Set, t.Item1, t.Item2))),
        (2, Gen.Zip(PoolKey, PoolValue).Select(t => WireRequest.KeyValue(QueryType.Append, t.Item1, t.Item2))),
        (3, from k in PoolKey from e in PoolValue from d in PoolValue select WireRequest.CompareSet(k, e, d)),
        (3, Gen.Zip(PoolKey, Gen.Frequency((4, Gen.Choose(-3, 3).Select(i => (long)i)), (1, WireGenerators.AnyLong)))
            .Select(t => WireRequest.Add(t.Item1, t.Item2))),
        (3, PoolKey.Select(k => WireRequest.KeyOnly(QueryType.Get, k))),
        (2, PoolKey.Select(k => WireRequest.KeyOnly(QueryType.DeleteKey, k))),
        (2, PoolKeys.Select(k => WireRequest.Multi(QueryType.Check, k))),
        (5, Gen.Choose(1, 3).SelectMany(n => Gen.ArrayOf(PoolKey, n)).Select(k => WireRequest.Multi(QueryType.Wait, k))),
        (3, Gen.Constant(WireRequest.Bare(QueryType.CancelWait))),
        (2, PoolKeys.Select(k => WireRequest.Multi(QueryType.MultiGet, k))),
        (2, PoolKeys.SelectMany(k => Gen.ArrayOf(PoolValue, k.Length).Select(v => WireRequest.MultiSet(k, v)))),
        (1, Gen.Constant(WireRequest.Bare(QueryType.GetNumKeys))),
        (1, Gen.Constant(WireRequest.Bare(QueryType.ListKeys))),
        (1, WireGenerators.AnyUInt.Select(WireRequest.Ping)),
        (3, Gen.Zip(PoolKey, PoolValue).Select(t => WireRequest.KeyValue(QueryType.QueuePush, t.Item1, t.Item2))),
        (2, PoolKey.Select(k => WireRequest.KeyOnly(QueryType.QueuePop, k))),
        (1, PoolKey.Select(k => WireRequest.KeyOnly(QueryType.QueueLength, k))),
        (1, Gen.Constant(WireRequest.Validate())));

    /// <summary>What a fresh connection sends first: normally VALIDATE, sometimes a wrong magic or nothing.</summary>
    private static Gen<WireRequest[]> Opening { get; } = Gen.Frequency(
        (12, Gen.Constant(new[] { WireRequest.Validate() })),
        (1, Gen.Constant(new[] { WireRequest.Validate(0x3C85F7CF) })),
        (1, Gen.Constant(Array.Empty<WireRequest>())));

    private sealed record Step(int Slot, bool Disconnect, WireRequest[] Opening, WireRequest[] Requests, double Cut)
    {
        public override string ToString() => Disconnect
            ? $"#{Slot} disconnect"
            : $"#{Slot} {string.Join(" ", Opening.Concat(Requests))} cut@{Cut:F2}";
    }

    private static Gen<Step> StepGen { get; } = Gen.Frequency(
        (12, from slot in Gen.Choose(0, Slots - 1)
             from opening in Opening
             from count in Gen.Choose(1, 4)
             from requests in Gen.ArrayOf(Op, count)
             from cut in Gen.Choose(0, 100)
             select new Step(slot, false, opening, requests, cut / 100.0)),
        (1, Gen.Choose(0, Slots - 1).Select(slot => new Step(slot, true, [], [], 0))));

    [Fact]
    public void Sessions_on_one_store_match_the_model_reply_for_reply_and_in_final_state()
    {
        var runs = from shards in Gen.Elements(1, 2, 16, 64)
                   from n in Gen.Choose(1, 40)
                   from steps in Gen.ArrayOf(StepGen, n)
                   select (shards, steps);
        using var threads = new SlotThreads(Slots);
        var property = Prop.ForAll(runs.ToArbitrary(), run => Run(threads, run.shards, run.steps));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(400), property);
    }

    [Fact]
    public void The_model_stoll_agrees_with_DecimalCounter_on_the_values_the_model_test_uses()
    {
        // Keeps the model's independent parser honest on the inputs that matter to this test.
        foreach (var value in ValuePool)
        {
            Assert.Equal(DecimalCounter.TryParse(value, out var ours), StoreModel.ReferenceStoll(value, out var reference));
            Assert.Equal(ours, reference);
        }
    }

    private static void Run(SlotThreads threads, int shards, Step[] steps)
    {
        var store = new KeyValueStore(shards);
        var model = new StoreModel(Slots);
        var sessions = new Session?[Slots];
        var sent = new bool[Slots];
        try
        {
            foreach (var step in steps)
            {
                var slot = step.Slot;
                if (step.Disconnect)
                {
                    sessions[slot]?.Dispose();
                    sessions[slot] = null;
                    model.Close(slot);
                    continue;
                }

                if (sessions[slot] is null)
                {
                    sessions[slot] = new Session(store, CodecLimits.Default);
                    sent[slot] = false;
                }

                var requests = sent[slot] ? step.Requests : [.. step.Opening, .. step.Requests];
                sent[slot] = true;
                var session = sessions[slot]!;
                var error = threads.Run(slot, () => Execute(session, requests, step.Cut, model, slot, step));
                CompareOutputs(sessions, model, step);
                if (error != ProtocolError.None)
                {
                    sessions[slot]!.Dispose();
                    sessions[slot] = null;
                    model.Close(slot);
                }
            }

            CompareState(store, sessions, model);
        }
        finally
        {
            foreach (var session in sessions)
            {
                session?.Dispose();
            }
        }
    }

    /// <summary>Feeds the batch in two reads cut at a fraction of its length, keeping unconsumed bytes like a connection.</summary>
    private static SessionError Execute(Session session, WireRequest[] requests, double cutFraction, StoreModel model, int slot, Step step)
    {
        var frames = requests.Select(r => r.Encode()).ToArray();
        var bytes = frames.SelectMany(f => f).ToArray();
        var cut = (int)(bytes.Length * cutFraction);

        // What the model says: requests up to the first error execute, in order.
        var expectedError = SessionError.None;
        var executed = 0;
        foreach (var request in requests)
        {
            expectedError = model.Execute(slot, request);
            if (expectedError != ProtocolError.None)
            {
                break;
            }

            executed++;
        }

        var ends = new List<int>();
        var end = 0;
        foreach (var frame in frames)
        {
            end += frame.Length;
            ends.Add(end);
        }

        var first = session.Process(bytes.AsSpan(0, cut));
        var wholeInFirst = ends.Count(e => e <= cut);
        if (first.Error != ProtocolError.None)
        {
            Assert.True(expectedError == first.Error, $"{step}: first read failed with {first.Error}, model {expectedError}");
            Assert.Equal(executed, first.Requests);
            return first.Error;
        }

        Assert.True(wholeInFirst == first.Requests, $"{step}: executed {first.Requests} of {wholeInFirst} whole requests in the first read");
        Assert.Equal(wholeInFirst == 0 ? 0 : ends[wholeInFirst - 1], first.Consumed);
        var second = session.Process(bytes.AsSpan(first.Consumed));
        Assert.True(expectedError == second.Error, $"{step}: error {second.Error}, model {expectedError}");
        Assert.Equal(executed, first.Requests + second.Requests);
        if (second.Error == ProtocolError.None)
        {
            Assert.Equal(bytes.Length - first.Consumed, second.Consumed);
        }

        return second.Error;
    }

    private static void CompareOutputs(Session?[] sessions, StoreModel model, Step step)
    {
        using var output = new PooledBufferWriter();
        for (var slot = 0; slot < Slots; slot++)
        {
            output.Clear();
            sessions[slot]?.TakeOutput(output);
            var expected = model.TakeExpected(slot);
            var difference = Expectation.Compare(expected, output.WrittenSpan);
            Assert.True(difference is null, $"after {step}: connection #{slot}: {difference}");
        }
    }

    private static void CompareState(KeyValueStore store, Session?[] sessions, StoreModel model)
    {
        var keys = store.Keys().Select(Convert.ToHexString).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(model.Map.Keys.Order(StringComparer.Ordinal), keys);
        Assert.Equal(model.Map.Count, store.KeyCount);
        foreach (var (key, value) in model.Map)
        {
            Assert.Equal(value, store.Get(Convert.FromHexString(key)));
        }

        var awaited = store.AwaitedKeys().ToDictionary(p => Convert.ToHexString(p.Key), p => p.Value, StringComparer.Ordinal);
        Assert.Equal(model.AwaitedKeys().OrderBy(p => p.Key, StringComparer.Ordinal), awaited.OrderBy(p => p.Key, StringComparer.Ordinal));
        for (var slot = 0; slot < Slots; slot++)
        {
            Assert.Equal(model.IsWaiting(slot), sessions[slot]?.IsWaiting ?? false);
            Assert.Equal(model.IsValidated(slot), sessions[slot]?.IsValidated ?? false);
        }

        using var popped = new PooledBufferWriter();
        foreach (var name in KeyPool.Select(Convert.ToHexString))
        {
            var contents = model.QueueContents(name);
            var raw = Convert.FromHexString(name);
            Assert.Equal(contents.Length, store.QueueLength(raw));
            foreach (var item in contents)
            {
                popped.Clear();
                store.QueuePop(raw, popped);
                var reader = new ResponseReader(popped.WrittenSpan);
                Assert.True(reader.TryReadInt64(out var length) && length > 0);
                Assert.True(reader.TryReadBlob(1 << 20, out var value));
                Assert.Equal(item, value.ToArray());
            }

            Assert.Equal(0, store.QueueLength(raw));
        }
    }
}
