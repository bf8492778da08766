using System.Buffers;
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>Arbitrary bytes end in Complete, Incomplete or a protocol error: never a throw, never an over-read.</summary>
public sealed class HostileInputProperties
{
    private static readonly CodecLimits Small = new(MaxKeyLength: 16, MaxValueLength: 32, MaxKeysPerRequest: 4);

    /// <summary>A length or count field: small, at or just past a limit, or absurd.</summary>
    private static Gen<ulong> LengthField { get; } = Gen.Frequency(
        (6, Gen.Choose(0, 40).Select(n => (ulong)n)),
        (1, Gen.Elements(8192UL, 8193UL, 131_072UL, 131_073UL, 8UL * 1024 * 1024, (8UL * 1024 * 1024) + 1, 1UL << 31, 1UL << 32, 1UL << 63, ulong.MaxValue, (ulong)int.MaxValue + 1)),
        (1, WireGenerators.AnyLong.Select(n => (ulong)n)));

    /// <summary>Fragments that look like protocol pieces, glued in any order, plus raw noise.</summary>
    private static Gen<byte[]> Fragment { get; } = Gen.Frequency(
        (3, Gen.Choose(0, 20).Select(c => new[] { (byte)c })),
        (3, LengthField.Select(n => { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, n); return b; })),
        (2, WireGenerators.Blob),
        (1, WireGenerators.Request.Select(r => r.Encode())),
        (1, Gen.Choose(0, 1).SelectMany(overBy => WireGenerators.AtLimit(Small, overBy)).Select(s => s.Request.Encode())));

    private static Gen<byte[]> Hostile { get; } = Gen.Frequency(
        (3, Gen.ListOf(Fragment).Select(parts => parts.SelectMany(p => p).ToArray())),
        (1, Gen.Choose(0, 300).SelectMany(n => Gen.ArrayOf(WireGenerators.AnyByte, n))));

    [Fact]
    public void Arbitrary_bytes_never_throw_never_overread_and_fail_only_with_a_reason()
    {
        var property = Prop.ForAll(Hostile.ToArbitrary(), input =>
        {
            ReadAll(input, CodecLimits.Default);
            ReadAll(input, Small);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), property);
    }

    [Fact]
    public void The_sequence_overload_agrees_with_the_span_reader_on_arbitrary_bytes()
    {
        var samples =
            from input in Hostile
            from cuts in WireGenerators.SplitPoints(input.Length)
            select (input, cuts);
        var property = Prop.ForAll(samples.ToArbitrary(), sample =>
        {
            var (input, cuts) = sample;
            var span = new RequestReader(input, Small);
            var spanStatus = span.TryRead(out _);
            var status = RequestReader.TryRead(ChunkedSequence.From(ChunkedSequence.Split(input, cuts)), Small, new ArrayBufferWriter<byte>(), out _, out var consumed, out var error);
            Assert.Equal(spanStatus, status);
            Assert.Equal(span.Consumed, consumed);
            Assert.Equal(span.Error, error);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }

    public static TheoryData<string, byte[], ProtocolError> OversizedFields()
    {
        var data = new TheoryData<string, byte[], ProtocolError>();
        var limits = CodecLimits.Default;
        foreach (var (name, length) in new[] { ("2^63", 1UL << 63), ("2^64-1", ulong.MaxValue), ("key limit+1", (ulong)limits.MaxKeyLength + 1) })
        {
            foreach (var code in new[] { QueryType.Set, QueryType.CompareSet, QueryType.Get, QueryType.Add, QueryType.DeleteKey, QueryType.Append, QueryType.QueuePush, QueryType.QueuePop, QueryType.QueueLength })
            {
                data.Add($"{code} key length {name}", Bytes((byte)code, length), ProtocolError.KeyTooLong);
            }

            foreach (var code in new[] { QueryType.Check, QueryType.Wait, QueryType.MultiGet, QueryType.MultiSet })
            {
                data.Add($"{code} first key length {name}", Bytes((byte)code, 1UL, length), ProtocolError.KeyTooLong);
            }
        }

        foreach (var (name, length) in new[] { ("2^63", 1UL << 63), ("2^64-1", ulong.MaxValue), ("value limit+1", (ulong)limits.MaxValueLength + 1) })
        {
            foreach (var code in new[] { QueryType.Set, QueryType.Append, QueryType.QueuePush, QueryType.CompareSet })
            {
                data.Add($"{code} value length {name}", Bytes((byte)code, 1UL, "k"u8.ToArray(), length), ProtocolError.ValueTooLong);
            }

            data.Add($"CompareSet desired length {name}", Bytes((byte)QueryType.CompareSet, 1UL, "k"u8.ToArray(), 0UL, length), ProtocolError.ValueTooLong);
            data.Add($"MultiSet value length {name}", Bytes((byte)QueryType.MultiSet, 1UL, 1UL, "k"u8.ToArray(), length), ProtocolError.ValueTooLong);
        }

        foreach (var (name, count) in new[] { ("2^63", 1UL << 63), ("2^64-1", ulong.MaxValue), ("keys limit+1", (ulong)limits.MaxKeysPerRequest + 1) })
        {
            foreach (var code in new[] { QueryType.Check, QueryType.Wait, QueryType.MultiGet, QueryType.MultiSet })
            {
                data.Add($"{code} count {name}", Bytes((byte)code, count), ProtocolError.TooManyKeys);
            }
        }

        foreach (var code in new byte[] { 18, 19, 100, 255 })
        {
            data.Add($"code {code}", [code], ProtocolError.UnknownCommand);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OversizedFields))]
    public void Oversized_lengths_and_counts_are_errors_even_when_the_payload_is_absent(string name, byte[] input, ProtocolError expected)
    {
        var reader = new RequestReader(input, CodecLimits.Default);
        Assert.True(reader.TryRead(out _) == ParseStatus.Error, name);
        Assert.Equal(expected, reader.Error);
        Assert.Equal(0, reader.Consumed);
    }

    [Theory]
    [InlineData(QueryType.Get)]
    [InlineData(QueryType.Set)]
    [InlineData(QueryType.MultiGet)]
    public void Lengths_exactly_at_the_limit_wait_for_the_payload(QueryType code)
    {
        var limits = CodecLimits.Default;
        var input = code == QueryType.MultiGet
            ? Bytes((byte)code, (ulong)limits.MaxKeysPerRequest, (ulong)limits.MaxKeyLength)
            : Bytes((byte)code, (ulong)limits.MaxKeyLength);
        var reader = new RequestReader(input, limits);
        Assert.Equal(ParseStatus.Incomplete, reader.TryRead(out _));
        Assert.Equal(input.Length + limits.MaxKeyLength, reader.BytesNeeded);
    }

    private static void ReadAll(byte[] input, CodecLimits limits)
    {
        var reader = new RequestReader(input, limits);
        while (true)
        {
            var before = reader.Consumed;
            var status = reader.TryRead(out var request);
            Assert.InRange(reader.Consumed, before, input.Length);
            switch (status)
            {
                case ParseStatus.Complete:
                    Assert.True(reader.Consumed > before, "a complete frame consumed nothing");
                    AssertInside(input, request.Key);
                    AssertInside(input, request.Value);
                    AssertInside(input, request.Desired);
                    AssertInside(input, request.Keys.Encoded);
                    Assert.True(request.Keys.Count <= limits.MaxKeysPerRequest);
                    var entries = 0;
                    foreach (var entry in request.Keys)
                    {
                        AssertInside(input, entry.Key);
                        AssertInside(input, entry.Value);
                        Assert.True(entry.Key.Length <= limits.MaxKeyLength);
                        Assert.True(entry.Value.Length <= limits.MaxValueLength);
                        entries++;
                    }

                    Assert.Equal(request.Keys.Count, entries);
                    Assert.True(request.Key.Length <= limits.MaxKeyLength);
                    Assert.True(request.Value.Length <= limits.MaxValueLength);
                    Assert.True(request.Desired.Length <= limits.MaxValueLength);
                    break;
                case ParseStatus.Incomplete:
                    Assert.Equal(before, reader.Consumed);
                    Assert.True(reader.BytesNeeded > input.Length - before, "BytesNeeded must promise more than is buffered");
                    return;
                default:
                    Assert.Equal(ParseStatus.Error, status);
                    Assert.Equal(before, reader.Consumed);
                    Assert.NotEqual(ProtocolError.None, reader.Error);
                    return;
            }
        }
    }

    private static void AssertInside(ReadOnlySpan<byte> input, ReadOnlySpan<byte> slice)
    {
        if (slice.IsEmpty)
        {
            return;
        }

        Assert.True(input.Overlaps(slice, out var offset), "a parsed field points outside the input");
        Assert.InRange(offset, 0, input.Length - slice.Length);
    }

    private static byte[] Bytes(byte code, params object[] parts)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.WriteByte(code);
        foreach (var part in parts)
        {
            switch (part)
            {
                case ulong n:
                    buffer.WriteUInt64(n);
                    break;
                case byte[] raw:
                    buffer.Write(raw);
                    break;
                default:
                    throw new ArgumentException(part.GetType().Name);
            }
        }

        return buffer.WrittenSpan.ToArray();
    }
}
