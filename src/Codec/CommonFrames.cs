using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TcpStore.Codec;

/// <summary>
/// The fast path of <see cref="RequestReader"/>: GET, SET, ADD and a one-key CHECK (all of a
/// training job's steady traffic) read straight from the buffer once each field's bounds are
/// checked, without the general path's cursor, per-field status and span slicing.
/// </summary>
/// <remarks>
/// It only ever accepts. A frame that is partial, over a limit or anything else is left to the
/// general path, which then produces the same result it always did (incomplete with its
/// <see cref="RequestReader.BytesNeeded"/>, or the error), so the two cannot disagree about those.
/// Every length is compared as an unsigned 64-bit value against both the limit and the bytes that
/// are actually there before it is narrowed or used as an offset.
/// </remarks>
internal static class CommonFrames
{
    // Command byte + u64 length.
    private const int KeyAt = 1 + sizeof(ulong);

    // Command byte + two u64 fields: SET and ADD (key length, then the value length or delta after
    // the key), CHECK (count, then the key length).
    private const int TwoFields = 1 + (2 * sizeof(ulong));

    /// <summary>Reads one whole common frame at the start of <paramref name="input"/>.</summary>
    /// <returns>False when the general path must decide (the outputs are then meaningless).</returns>
    public static bool TryRead(ReadOnlySpan<byte> input, scoped in CodecLimits limits, out Request request, out int size)
    {
        request = default;
        size = 0;
        var length = input.Length;
        if (length < KeyAt)
        {
            return false;
        }

        ref var start = ref MemoryMarshal.GetReference(input);
        var maxKey = (ulong)limits.MaxKeyLength;
        switch ((QueryType)start)
        {
            case QueryType.Get:
                {
                    if (!TryKeyLength(ref start, 1, length, KeyAt, maxKey, out var key))
                    {
                        return false;
                    }

                    request.Type = QueryType.Get;
                    request.Key = Slice(ref start, KeyAt, key);
                    size = KeyAt + key;
                    return true;
                }

            case QueryType.Set:
                {
                    if (!TryKeyLength(ref start, 1, length, TwoFields, maxKey, out var key))
                    {
                        return false;
                    }

                    // The key and the value's length field are present (checked just above).
                    var valueAt = TwoFields + key;
                    var value = ReadUInt64(ref start, valueAt - sizeof(ulong));
                    if (value > (ulong)limits.MaxValueLength || value > (ulong)(length - valueAt))
                    {
                        return false;
                    }

                    request.Type = QueryType.Set;
                    request.Key = Slice(ref start, KeyAt, key);
                    request.Value = Slice(ref start, valueAt, (int)value);
                    size = valueAt + (int)value;
                    return true;
                }

            case QueryType.Add:
                {
                    if (!TryKeyLength(ref start, 1, length, TwoFields, maxKey, out var key))
                    {
                        return false;
                    }

                    request.Type = QueryType.Add;
                    request.Key = Slice(ref start, KeyAt, key);
                    request.Delta = unchecked((long)ReadUInt64(ref start, KeyAt + key));
                    size = TwoFields + key;
                    return true;
                }

            case QueryType.Check:
                {
                    // One key: what a barrier's or a SET+CHECK's CHECK carries; longer lists go the general way.
                    if (length < TwoFields || ReadUInt64(ref start, 1) != 1 || (ulong)limits.MaxKeysPerRequest < 1)
                    {
                        return false;
                    }

                    if (!TryKeyLength(ref start, KeyAt, length, TwoFields, maxKey, out var key))
                    {
                        return false;
                    }

                    request.Type = QueryType.Check;
                    // The key list keeps its wire form (length field and key), as the general path builds it.
                    request.Keys = new KeyList(1, Slice(ref start, KeyAt, sizeof(ulong) + key), pairs: false);
                    request.Key = Slice(ref start, TwoFields, key);
                    size = TwoFields + key;
                    return true;
                }

            default:
                return false;
        }
    }

    // The key length field at `at`, when the frame's fixed part (`fixedBytes`: every field but the
    // key's bytes) is present, the key is within the limit and its bytes are present too.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryKeyLength(ref byte start, int at, int length, int fixedBytes, ulong maxKey, out int key)
    {
        key = 0;
        if (length < fixedBytes)
        {
            return false;
        }

        var wire = ReadUInt64(ref start, at);
        if (wire > maxKey || wire > (ulong)(length - fixedBytes))
        {
            return false;
        }

        key = (int)wire;
        return true;
    }

    // Caller has checked that offset + 8 <= the input's length.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUInt64(ref byte start, int offset)
    {
        var value = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset));
        return BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
    }

    // Caller has checked that offset + length <= the input's length.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Slice(ref byte start, int offset, int length) =>
        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref start, offset), length);
}
