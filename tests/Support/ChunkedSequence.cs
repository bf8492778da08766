using System.Buffers;

namespace TcpStore.Tests.Support;

/// <summary>Builds a multi-segment <see cref="ReadOnlySequence{T}"/> from chunks, as a pipe would deliver them.</summary>
public static class ChunkedSequence
{
    public static ReadOnlySequence<byte> From(IReadOnlyList<byte[]> chunks)
    {
        if (chunks.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(chunks[0], 0);
        var last = first;
        for (var i = 1; i < chunks.Count; i++)
        {
            last = last.Append(chunks[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cuts <paramref name="data"/> at the given sorted positions.</summary>
    public static List<byte[]> Split(byte[] data, IReadOnlyList<int> cuts)
    {
        var chunks = new List<byte[]>(cuts.Count + 1);
        var start = 0;
        foreach (var cut in cuts)
        {
            chunks.Add(data[start..cut]);
            start = cut;
        }

        chunks.Add(data[start..]);
        return chunks;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, long runningIndex)
        {
            Memory = data;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] data)
        {
            var next = new Segment(data, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
