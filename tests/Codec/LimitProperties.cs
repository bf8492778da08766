using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>
/// Requests whose fields sit exactly at the configured limits decode unchanged; one byte (or one key)
/// past a limit is a protocol error naming that limit, raised before anything is consumed.
/// </summary>
public sealed class LimitProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    // Small limits make full key lists and at-limit values cheap; the moderate ones keep lengths that
    // need two or more bytes of the length field.
    private static readonly CodecLimits[] LimitSets =
    [
        new(MaxKeyLength: 16, MaxValueLength: 32, MaxKeysPerRequest: 4),
        new(MaxKeyLength: 1024, MaxValueLength: 4096, MaxKeysPerRequest: 128),
    ];

    private static Gen<(CodecLimits Limits, WireRequest Request, ProtocolError Expected, int[] Cuts)> Samples(int overBy) =>
        from limits in Gen.Elements(LimitSets)
        from sample in WireGenerators.AtLimit(limits, overBy)
        let length = sample.Request.Encode().Length
        from cuts in WireGenerators.SplitPoints(length)
        select (limits, sample.Request, sample.Expected, cuts);

    [Fact]
    public void Fields_exactly_at_the_limits_decode_unchanged_however_the_bytes_arrive()
    {
        var property = Prop.ForAll(Samples(overBy: 0).ToArbitrary(), sample =>
        {
            var (limits, request, _, cuts) = sample;
            var frame = request.Encode();
            var reader = new RequestReader(frame, limits);
            Assert.True(reader.TryRead(out var parsed) == ParseStatus.Complete, $"{request}: {reader.Error}");
            Assert.Null(request.Mismatch(parsed));
            Assert.Equal(frame.Length, reader.Consumed);

            var status = RequestReader.TryRead(ChunkedSequence.From(ChunkedSequence.Split(frame, cuts)), limits, new ArrayBufferWriter<byte>(), out var chunked, out var consumed, out _);
            Assert.Equal(ParseStatus.Complete, status);
            Assert.Null(request.Mismatch(chunked));
            Assert.Equal(frame.Length, consumed);
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void One_past_a_limit_is_an_error_naming_that_limit_however_the_bytes_arrive()
    {
        var property = Prop.ForAll(Samples(overBy: 1).ToArbitrary(), sample =>
        {
            var (limits, request, expected, cuts) = sample;
            var frame = request.Encode();
            var reader = new RequestReader(frame, limits);
            Assert.True(reader.TryRead(out _) == ParseStatus.Error, $"{request}: not rejected");
            Assert.Equal(expected, reader.Error);
            Assert.Equal(0, reader.Consumed);

            var status = RequestReader.TryRead(ChunkedSequence.From(ChunkedSequence.Split(frame, cuts)), limits, new ArrayBufferWriter<byte>(), out _, out var consumed, out var error);
            Assert.Equal(ParseStatus.Error, status);
            Assert.Equal(expected, error);
            Assert.Equal(0, consumed);
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void The_same_request_is_accepted_at_a_limit_and_rejected_one_below_it()
    {
        // Ties the two properties together: a request generated at limit L is exactly the kind the
        // codec must refuse once the limit is L - 1, so "accepted" above is not a codec that accepts all.
        var property = Prop.ForAll(Samples(overBy: 0).ToArbitrary(), sample =>
        {
            var (limits, request, expected, _) = sample;
            var tighter = expected switch
            {
                ProtocolError.KeyTooLong => limits with { MaxKeyLength = limits.MaxKeyLength - 1 },
                ProtocolError.ValueTooLong => limits with { MaxValueLength = limits.MaxValueLength - 1 },
                _ => limits with { MaxKeysPerRequest = limits.MaxKeysPerRequest - 1 },
            };
            var reader = new RequestReader(request.Encode(), tighter);
            Assert.Equal(ParseStatus.Error, reader.TryRead(out _));
            Assert.Equal(expected, reader.Error);
        });
        Check.One(Runs, property);
    }
}
