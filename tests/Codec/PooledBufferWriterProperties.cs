using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>The server's output buffer against a plain list of bytes, under any mix of operations.</summary>
public sealed class PooledBufferWriterProperties
{
    private enum Action
    {
        Write,
        AppendByte,
        AppendInt64,
        Discard,
        Clear,
        Release,
        Swap,
    }

    private sealed record Step(Action Action, byte[] Data, int Count, int Hint);

    private static Gen<Step> StepGen { get; } = Gen.Frequency(
        (6, from size in Gen.Frequency((5, Gen.Choose(0, 50)), (1, Gen.Choose(1000, 20_000)))
            from data in Gen.ArrayOf(WireGenerators.AnyByte, size)
            from hint in Gen.Elements(0, 1, size, size + 100)
            select new Step(Action.Write, data, 0, hint)),
        (2, WireGenerators.AnyByte.Select(b => new Step(Action.AppendByte, [b], 0, 0))),
        (2, Gen.ArrayOf(WireGenerators.AnyByte, 8).Select(b => new Step(Action.AppendInt64, b, 0, 0))),
        (2, Gen.Choose(0, 100).Select(n => new Step(Action.Discard, [], n, 0))),
        (1, Gen.Constant(new Step(Action.Clear, [], 0, 0))),
        (1, Gen.Constant(new Step(Action.Release, [], 0, 0))),
        (1, Gen.Constant(new Step(Action.Swap, [], 0, 0))));

    [Fact]
    public void Writes_discards_swaps_and_releases_keep_exactly_the_bytes_a_list_would()
    {
        var property = Prop.ForAll(Gen.ListOf(StepGen).ToArbitrary(), steps =>
        {
            using var writer = new PooledBufferWriter();
            using var other = new PooledBufferWriter();
            var model = new List<byte>();
            var otherModel = new List<byte>();
            foreach (var step in steps)
            {
                switch (step.Action)
                {
                    case Action.Write:
                        var span = writer.GetSpan(Math.Min(step.Hint, step.Data.Length));
                        if (span.Length < step.Data.Length)
                        {
                            span = writer.GetSpan(step.Data.Length);
                        }

                        Assert.True(span.Length >= Math.Max(1, step.Data.Length));
                        step.Data.CopyTo(span);
                        writer.Advance(step.Data.Length);
                        model.AddRange(step.Data);
                        break;
                    case Action.AppendByte:
                        writer.Append(step.Data[0]);
                        model.Add(step.Data[0]);
                        break;
                    case Action.AppendInt64:
                        writer.Append(BinaryPrimitives.ReadInt64LittleEndian(step.Data));
                        model.AddRange(step.Data);
                        break;
                    case Action.Discard:
                        var count = Math.Min(step.Count, model.Count);
                        writer.Discard(count);
                        model.RemoveRange(0, count);
                        break;
                    case Action.Clear:
                        writer.Clear();
                        model.Clear();
                        break;
                    case Action.Release:
                        writer.Release();
                        model.Clear();
                        Assert.Equal(0, writer.Capacity);
                        break;
                    default:
                        writer.SwapWith(other);
                        (model, otherModel) = (otherModel, model);
                        break;
                }

                Assert.Equal(model.Count, writer.WrittenCount);
                Assert.Equal(model, writer.WrittenSpan.ToArray());
                Assert.Equal(model, writer.WrittenMemory.ToArray());
                Assert.Equal(otherModel, other.WrittenSpan.ToArray());
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    [Fact]
    public void Appending_to_a_full_or_released_array_grows_it_and_keeps_every_byte()
    {
        // The append fast path writes at the end without a span: at exactly full it must grow, not
        // index past the array (the random mix above rarely lands on exactly full).
        using var writer = new PooledBufferWriter();
        writer.Append((byte)1);
        Assert.Equal(1, writer.WrittenCount);
        var free = writer.GetSpan(1).Length;
        writer.Advance(free);
        var capacity = writer.Capacity;
        Assert.Equal(capacity, writer.WrittenCount);
        writer.Append((byte)2);
        writer.Append(-2L);
        Assert.True(writer.Capacity > capacity);
        Assert.Equal(capacity + 9, writer.WrittenCount);
        Assert.Equal(1, writer.WrittenSpan[0]);
        Assert.Equal(2, writer.WrittenSpan[capacity]);
        Assert.Equal(-2L, BinaryPrimitives.ReadInt64LittleEndian(writer.WrittenSpan[(capacity + 1)..]));

        // Seven bytes free: an eight-byte append must grow too.
        writer.Release();
        writer.Advance(0);
        writer.Append((byte)3);
        writer.Advance(writer.GetSpan(1).Length - 7);
        var before = writer.WrittenCount;
        writer.Append(long.MinValue);
        Assert.Equal(before + 8, writer.WrittenCount);
        Assert.Equal(long.MinValue, BinaryPrimitives.ReadInt64LittleEndian(writer.WrittenSpan[before..]));
    }

    [Fact]
    public void Advancing_past_the_span_or_discarding_more_than_was_written_is_refused()
    {
        using var writer = new PooledBufferWriter();
        var available = writer.GetSpan(10).Length;
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(available + 1));
        writer.Advance(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Discard(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(-1));
        Assert.Equal(3, writer.WrittenCount);
    }
}
