using System.Buffers;
using TcpStore.Codec;

namespace TcpStore.Fuzz.Harness;

/// <summary>
/// Fuzz target (a): <see cref="RequestReader"/> on arbitrary bytes. Besides "no exception", it checks
/// that every parsed frame re-encodes to its own bytes, respects the limits, is reported as
/// incomplete when cut short, and that the reader never asks to buffer more than one frame can hold.
/// </summary>
public static class CodecHarness
{
    /// <summary>Runs one input under the small fuzz limits and the default limits, in the 2.2+ table and both pre-2.2 tables.</summary>
    public static void Run(ReadOnlySpan<byte> data)
    {
        foreach (var table in (ReadOnlySpan<LegacyProtocol>)[LegacyProtocol.Off, LegacyProtocol.Torch113, LegacyProtocol.Torch21])
        {
            ReadAll(data, FuzzLimits.Small, table);
        }

        ReadAll(data, CodecLimits.Default, LegacyProtocol.Off);
    }

    private static void ReadAll(ReadOnlySpan<byte> data, CodecLimits limits, LegacyProtocol table)
    {
        var reader = new RequestReader(data, limits, table);
        var maxFrame = FuzzLimits.MaxFrameBytes(limits);
        var frames = 0;
        while (true)
        {
            var before = reader.Consumed;
            var status = reader.TryRead(out var request);
            var remaining = data.Length - before;
            switch (status)
            {
                case ParseStatus.Complete:
                    {
                        var frame = data[before..reader.Consumed];
                        FuzzInvariantException.Check(frame.Length > 0, "a complete frame consumed nothing");
                        CheckWithinLimits(request, limits);
                        var encoded = RequestEncoder.Encode(request, table);
                        FuzzInvariantException.Check(
                            frame.SequenceEqual(encoded),
                            $"frame {frames} ({request.Type}) re-encodes to {Convert.ToHexString(encoded)}, parsed from {Convert.ToHexString(frame)}");
                        CheckTruncations(frame, limits, table);
                        if (frames++ == 0)
                        {
                            CheckSegmentedRead(data, limits, frame.Length, table);
                        }

                        break;
                    }

                case ParseStatus.Incomplete:
                    FuzzInvariantException.Check(reader.Consumed == before, "an incomplete frame consumed bytes");
                    FuzzInvariantException.Check(reader.BytesNeeded > remaining, $"BytesNeeded {reader.BytesNeeded} <= the {remaining} bytes present");
                    FuzzInvariantException.Check(reader.BytesNeeded <= maxFrame, $"BytesNeeded {reader.BytesNeeded} exceeds the largest frame {maxFrame}");
                    return;

                default:
                    FuzzInvariantException.Check(reader.Error != ProtocolError.None, "an error status without an error");
                    FuzzInvariantException.Check(reader.Consumed == before, "a bad frame consumed bytes");
                    return;
            }
        }
    }

    private static void CheckWithinLimits(in Request request, CodecLimits limits)
    {
        FuzzInvariantException.Check(request.Key.Length <= limits.MaxKeyLength, "key over the limit was accepted");
        FuzzInvariantException.Check(request.Value.Length <= limits.MaxValueLength, "value over the limit was accepted");
        FuzzInvariantException.Check(request.Desired.Length <= limits.MaxValueLength, "desired value over the limit was accepted");
        FuzzInvariantException.Check(request.Keys.Count <= limits.MaxKeysPerRequest, "key count over the limit was accepted");
        var seen = 0;
        foreach (var entry in request.Keys)
        {
            FuzzInvariantException.Check(entry.Key.Length <= limits.MaxKeyLength, "listed key over the limit was accepted");
            FuzzInvariantException.Check(entry.Value.Length <= limits.MaxValueLength, "listed value over the limit was accepted");
            seen++;
        }

        FuzzInvariantException.Check(seen == request.Keys.Count, $"key list enumerates {seen} entries but reports {request.Keys.Count}");
    }

    // Every strict prefix of a valid frame must be "incomplete, need more than you have, at most the whole frame".
    private static void CheckTruncations(ReadOnlySpan<byte> frame, CodecLimits limits, LegacyProtocol table)
    {
        Span<int> cuts = [0, frame.Length / 2, frame.Length - 1];
        foreach (var cut in cuts)
        {
            if (cut < 0 || cut >= frame.Length)
            {
                continue;
            }

            var reader = new RequestReader(frame[..cut], limits, table);
            var status = reader.TryRead(out _);
            FuzzInvariantException.Check(status == ParseStatus.Incomplete, $"a {cut}-byte prefix of a {frame.Length}-byte frame gave {status}");
            FuzzInvariantException.Check(
                reader.BytesNeeded > cut && reader.BytesNeeded <= frame.Length,
                $"a {cut}-byte prefix of a {frame.Length}-byte frame needs {reader.BytesNeeded}");
        }
    }

    // The multi-segment entry point must agree with the contiguous one wherever the split falls.
    private static void CheckSegmentedRead(ReadOnlySpan<byte> data, CodecLimits limits, int firstFrameLength, LegacyProtocol table)
    {
        if (data.Length < 2)
        {
            return;
        }

        var split = 1 + (firstFrameLength % (data.Length - 1));
        var sequence = TwoSegments(data[..split].ToArray(), data[split..].ToArray());
        var status = RequestReader.TryRead(sequence, limits, new ArrayBufferWriter<byte>(), out _, out var consumed, out _, table);
        FuzzInvariantException.Check(
            status == ParseStatus.Complete && consumed == firstFrameLength,
            $"segmented read split at {split} gave {status}/{consumed}, contiguous gave Complete/{firstFrameLength}");
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] first, byte[] second)
    {
        var head = new Segment(first, 0);
        var tail = new Segment(second, first.Length);
        head.SetNext(tail);
        return new ReadOnlySequence<byte>(head, 0, tail, second.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
