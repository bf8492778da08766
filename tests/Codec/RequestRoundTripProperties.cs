using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>Every request survives writer -> arbitrary splits -> reader with identical fields.</summary>
public sealed class RequestRoundTripProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    [Fact]
    public void Every_proper_prefix_is_incomplete_without_consuming_and_the_whole_frame_is_complete()
    {
        var property = Prop.ForAll(WireGenerators.Request.ToArbitrary(), request =>
        {
            var frame = request.Encode();
            for (var length = 0; length < frame.Length; length++)
            {
                var reader = new RequestReader(frame.AsSpan(0, length), CodecLimits.Default);
                var status = reader.TryRead(out _);
                Assert.True(status == ParseStatus.Incomplete, $"{request}: prefix {length}/{frame.Length} gave {status}");
                Assert.Equal(0, reader.Consumed);
                // BytesNeeded is a lower bound the server relies on to skip re-parsing: it must
                // promise progress past this prefix and never ask for more than the frame holds.
                Assert.InRange(reader.BytesNeeded, length + 1, frame.Length);
            }

            var whole = new RequestReader(frame, CodecLimits.Default);
            Assert.Equal(ParseStatus.Complete, whole.TryRead(out var parsed));
            Assert.Null(request.Mismatch(parsed));
            Assert.Equal(frame.Length, whole.Consumed);
            Assert.Equal(ParseStatus.Incomplete, whole.TryRead(out _));
            Assert.Equal(frame.Length, whole.Consumed);
        });
        Check.One(Runs, property);
    }

    // Several requests back to back, with the points where the stream is cut into reads.
    private static Gen<(List<WireRequest> Requests, byte[] Bytes, int[] Cuts)> PipelinedStreams =>
        from requests in Gen.NonEmptyListOf(WireGenerators.Request)
        let bytes = Concat(requests)
        from cuts in WireGenerators.SplitPoints(bytes.Length)
        select (requests, bytes, cuts);

    [Fact]
    public void A_pipelined_stream_cut_anywhere_decodes_to_the_same_requests_in_order()
    {
        var property = Prop.ForAll(PipelinedStreams.ToArbitrary(), sample =>
        {
            var (requests, bytes, cuts) = sample;
            var decoded = ReceiveLikeAConnection(ChunkedSequence.Split(bytes, cuts), requests);
            Assert.Equal(requests.Count, decoded);
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void The_sequence_overload_decodes_frames_that_span_segments()
    {
        var property = Prop.ForAll(PipelinedStreams.ToArbitrary(), sample =>
        {
            var (requests, bytes, cuts) = sample;
            var sequence = ChunkedSequence.From(ChunkedSequence.Split(bytes, cuts));
            var scratch = new ArrayBufferWriter<byte>();
            foreach (var expected in requests)
            {
                var status = RequestReader.TryRead(sequence, CodecLimits.Default, scratch, out var parsed, out var consumed, out var error);
                Assert.True(status == ParseStatus.Complete, $"{expected}: {status} {error}");
                Assert.Null(expected.Mismatch(parsed));
                Assert.Equal(expected.Encode().Length, consumed);
                sequence = sequence.Slice(consumed);
            }

            Assert.Equal(0, sequence.Length);
            Assert.Equal(ParseStatus.Incomplete, RequestReader.TryRead(sequence, CodecLimits.Default, scratch, out _, out var none, out _));
            Assert.Equal(0, none);
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void The_sequence_overload_decodes_frames_near_the_limits_whatever_their_size()
    {
        // Small limits make frames as large as the limits allow easy to generate: a MULTI_SET of four
        // full pairs is 265 bytes, far more than one key plus two values.
        var limits = new CodecLimits(MaxKeyLength: 16, MaxValueLength: 32, MaxKeysPerRequest: 4);
        var blob = (int max) => Gen.Choose(0, max).SelectMany(n => Gen.ArrayOf(WireGenerators.AnyByte, n));
        var multiSet =
            from count in Gen.Choose(0, 4)
            from keys in Gen.ArrayOf(blob(16), count)
            from values in Gen.ArrayOf(blob(32), count)
            select WireRequest.MultiSet(keys, values);
        var samples =
            from request in multiSet
            let bytes = request.Encode()
            from cuts in WireGenerators.SplitPoints(bytes.Length)
            select (request, bytes, cuts);
        var property = Prop.ForAll(samples.ToArbitrary(), sample =>
        {
            var (request, bytes, cuts) = sample;
            var status = RequestReader.TryRead(ChunkedSequence.From(ChunkedSequence.Split(bytes, cuts)), limits, new ArrayBufferWriter<byte>(), out var parsed, out var consumed, out var error);
            Assert.True(status == ParseStatus.Complete, $"{bytes.Length}-byte {request} in {cuts.Length + 1} segments: {status} {error}");
            Assert.Null(request.Mismatch(parsed));
            Assert.Equal(bytes.Length, consumed);
        });
        Check.One(Runs, property);
    }

    private static byte[] Concat(IEnumerable<WireRequest> requests)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var request in requests)
        {
            request.WriteTo(buffer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Appends each chunk to a buffer and parses the way the server's connection does, including
    /// skipping the parse until <see cref="RequestReader.BytesNeeded"/> bytes are buffered.
    /// </summary>
    private static int ReceiveLikeAConnection(List<byte[]> chunks, List<WireRequest> expected)
    {
        var buffer = new List<byte>();
        long needed = 0;
        var decoded = 0;
        foreach (var chunk in chunks)
        {
            buffer.AddRange(chunk);
            if (buffer.Count < needed)
            {
                continue;
            }

            var bytes = buffer.ToArray();
            var reader = new RequestReader(bytes, CodecLimits.Default);
            ParseStatus status;
            while ((status = reader.TryRead(out var parsed)) == ParseStatus.Complete)
            {
                Assert.True(decoded < expected.Count, "decoded more requests than were written");
                Assert.Null(expected[decoded].Mismatch(parsed));
                decoded++;
            }

            Assert.Equal(ParseStatus.Incomplete, status);
            needed = reader.BytesNeeded;
            Assert.True(needed > bytes.Length - reader.Consumed);
            buffer.RemoveRange(0, reader.Consumed);
        }

        Assert.Empty(buffer);
        return decoded;
    }
}
