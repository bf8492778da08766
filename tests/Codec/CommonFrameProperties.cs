using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>
/// The reader's fast path for GET, SET, ADD and one-key CHECK frames (<c>CommonFrames</c>) agrees with
/// the general path on every input: the same status, bytes consumed, bytes needed, error and fields,
/// for whole frames, every prefix of them, frames at and past the limits, and mangled frames.
/// </summary>
public sealed class CommonFrameProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    private static readonly CodecLimits Small = new(MaxKeyLength: 16, MaxValueLength: 32, MaxKeysPerRequest: 4);

    // Limits a fast path could get wrong at the edges: nothing allowed at all, and a single key.
    private static readonly CodecLimits[] EveryLimits = [CodecLimits.Default, Small, new(0, 0, 0), new(1, 1, 1)];

    /// <summary>The frames the fast path takes, with keys and values of any length the generators make.</summary>
    private static Gen<WireRequest> Common { get; } = Gen.OneOf(
        WireGenerators.Blob.Select(key => WireRequest.KeyOnly(QueryType.Get, key)),
        Gen.Two(WireGenerators.Blob).Select(t => WireRequest.KeyValue(QueryType.Set, t.Item1, t.Item2)),
        Gen.Zip(WireGenerators.Blob, WireGenerators.AnyLong).Select(t => WireRequest.Add(t.Item1, t.Item2)),
        WireGenerators.Blob.Select(key => WireRequest.Multi(QueryType.Check, [key])));

    /// <summary>A length field written over one of the frame's length positions: small, at a limit, or absurd.</summary>
    private static Gen<ulong> LengthField { get; } = Gen.Frequency(
        (4, Gen.Choose(0, 40).Select(n => (ulong)n)),
        (1, Gen.Elements(16UL, 17UL, 32UL, 33UL, 8192UL, 8193UL, 1UL << 31, 1UL << 32, 1UL << 63, ulong.MaxValue, (ulong)int.MaxValue + 1, (ulong)int.MaxValue)),
        (1, WireGenerators.AnyLong.Select(n => (ulong)n)));

    /// <summary>A common frame with one 8-byte field (at offset 1, or right after the key) overwritten.</summary>
    private static Gen<byte[]> Mangled { get; } =
        from request in Common
        from field in LengthField
        from second in Gen.Elements(false, true)
        select Overwrite(request, field, second);

    private static Gen<byte[]> Streams { get; } = Gen.Frequency(
        (3, Common.Select(r => r.Encode())),
        (1, WireGenerators.Request.Select(r => r.Encode())),
        (2, Mangled),
        (1, Gen.Choose(0, 1).SelectMany(overBy => WireGenerators.AtLimit(Small, overBy)).Select(s => s.Request.Encode())),
        (1, Gen.NonEmptyListOf(Common).Select(rs => rs.SelectMany(r => r.Encode()).ToArray())));

    [Fact]
    public void Fast_and_general_paths_agree_on_every_prefix_of_every_frame()
    {
        var property = Prop.ForAll(Streams.ToArbitrary(), bytes =>
        {
            foreach (var limits in EveryLimits)
            {
                for (var length = 0; length <= bytes.Length; length++)
                {
                    AssertSameOutcome(bytes.AsSpan(0, length), limits);
                }
            }
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void The_fast_path_is_taken_for_whole_common_frames()
    {
        // Guards the property above against a fast path that never accepts anything (it would pass trivially):
        // whole common frames parse completely, and a frame cut short is left to the general path.
        var property = Prop.ForAll(Common.ToArbitrary(), request =>
        {
            var frame = request.Encode();
            Assert.True(FastPathAccepts(frame, CodecLimits.Default, out var size), $"{request}: not taken");
            Assert.Equal(frame.Length, size);
            Assert.False(FastPathAccepts(frame.AsSpan(0, frame.Length - 1), CodecLimits.Default, out _));
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void A_length_past_the_bytes_or_the_limit_is_left_to_the_general_path()
    {
        // GET with a key length of 2^64-1, 2^63 and 2^32 + 3 over 3 bytes of key: a fast path that narrowed
        // before comparing would read a small length and accept; it must defer, and the general path rejects.
        foreach (var length in new[] { ulong.MaxValue, 1UL << 63, (1UL << 32) + 3 })
        {
            var frame = new byte[1 + 8 + 3];
            frame[0] = (byte)QueryType.Get;
            BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(1), length);
            Assert.False(FastPathAccepts(frame, CodecLimits.Default, out _));
            var reader = new RequestReader(frame, CodecLimits.Default);
            Assert.Equal(ParseStatus.Error, reader.TryRead(out _));
            Assert.Equal(ProtocolError.KeyTooLong, reader.Error);
        }
    }

    private static bool FastPathAccepts(ReadOnlySpan<byte> input, CodecLimits limits, out int size) =>
        CommonFrames.TryRead(input, limits, out _, out size);

    [Fact]
    public void A_one_key_check_carries_its_key_on_both_paths()
    {
        // The session answers a one-key CHECK from Key: both paths must set it to exactly the key,
        // and leave it empty when the CHECK names more keys.
        var property = Prop.ForAll(WireGenerators.Blob.ToArbitrary(), WireGenerators.Blob.ToArbitrary(), (key, other) =>
        {
            var one = WireRequest.Multi(QueryType.Check, [key]).Encode();
            var fast = new RequestReader(one, CodecLimits.Default);
            var general = new RequestReader(one, CodecLimits.Default);
            Assert.Equal(ParseStatus.Complete, fast.TryRead(out var fastRequest));
            Assert.Equal(ParseStatus.Complete, general.TryReadGeneral(out var generalRequest));
            Assert.True(fastRequest.Key.SequenceEqual(key), "fast path: key differs");
            Assert.True(generalRequest.Key.SequenceEqual(key), "general path: key differs");

            var two = WireRequest.Multi(QueryType.Check, [key, other]).Encode();
            var reader = new RequestReader(two, CodecLimits.Default);
            Assert.Equal(ParseStatus.Complete, reader.TryRead(out var twoKeys));
            Assert.Equal(2, twoKeys.Keys.Count);
            Assert.True(twoKeys.Key.IsEmpty, "a two-key CHECK has no single key");
        });
        property.Check(Runs);
    }

    // Reads every frame of the input both ways, in step, until either stops.
    private static void AssertSameOutcome(ReadOnlySpan<byte> input, CodecLimits limits)
    {
        var fast = new RequestReader(input, limits);
        var general = new RequestReader(input, limits);
        while (true)
        {
            var fastStatus = fast.TryRead(out var fastRequest);
            var generalStatus = general.TryReadGeneral(out var generalRequest);
            Assert.Equal(generalStatus, fastStatus);
            Assert.Equal(general.Consumed, fast.Consumed);
            Assert.Equal(general.BytesNeeded, fast.BytesNeeded);
            Assert.Equal(general.Error, fast.Error);
            AssertSameRequest(generalRequest, fastRequest);
            if (fastStatus != ParseStatus.Complete)
            {
                return;
            }
        }
    }

    private static void AssertSameRequest(in Request expected, in Request actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.True(expected.Key.SequenceEqual(actual.Key), "key differs");
        Assert.True(expected.Value.SequenceEqual(actual.Value), "value differs");
        Assert.True(expected.Desired.SequenceEqual(actual.Desired), "desired differs");
        Assert.Equal(expected.Delta, actual.Delta);
        Assert.Equal(expected.Word, actual.Word);
        Assert.Equal(expected.Keys.Count, actual.Keys.Count);
        Assert.Equal(expected.Keys.HasValues, actual.Keys.HasValues);
        Assert.True(expected.Keys.Encoded.SequenceEqual(actual.Keys.Encoded), "key list differs");
    }

    private static byte[] Overwrite(WireRequest request, ulong field, bool afterKey)
    {
        var frame = request.Encode();
        // Offset 1 is the key length (or CHECK's count); after the key comes SET's value length or ADD's
        // delta, and CHECK's key length sits at 9.
        var at = request.Type == QueryType.Check
            ? (afterKey ? 9 : 1)
            : (afterKey && request.Type != QueryType.Get ? 9 + request.Key.Length : 1);
        if (at + 8 <= frame.Length)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(at), field);
        }

        return frame;
    }
}
