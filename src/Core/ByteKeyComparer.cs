using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace TcpStore.Core;

/// <summary>
/// Compares byte-string keys by content and lets dictionaries be probed with a
/// <see cref="ReadOnlySpan{T}"/> straight out of the receive buffer, so a lookup allocates nothing.
/// The hash is keyed by secrets drawn per process, which keeps crafted keys from degrading the table.
/// </summary>
public sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    /// <summary>The shared instance.</summary>
    public static ByteKeyComparer Instance { get; } = new();

    /// <inheritdoc />
    public bool Equals(byte[]? x, byte[]? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    /// <inheritdoc />
    public int GetHashCode(byte[] obj) => HashOf(obj);

    /// <inheritdoc />
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    /// <inheritdoc />
    public int GetHashCode(ReadOnlySpan<byte> alternate) => HashOf(alternate);

    /// <inheritdoc />
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    // Two secrets drawn once per process. Every word of the key is mixed with one of them before a
    // 64x64->128-bit multiply, so without the secrets nobody can aim keys at one bucket (a fixed
    // constant there would let a key word equal to it zero the product whatever the other word).
    private static readonly ulong SecretA = RandomSecret();
    private static readonly ulong SecretB = RandomSecret();

    /// <summary>The key's hash, as <see cref="GetHashCode(ReadOnlySpan{byte})"/> without going through the comparer.</summary>
    // A multiply-fold hash in the style of wyhash: 16 bytes per multiply where HashCode.AddBytes
    // spends several rounds per 4 bytes; it shows in the instruction count per request
    // (bench/instr-per-request.sh). The store hashes a key once per lookup: the top bits pick the
    // shard, the bottom bits the slot in that shard's table.
    internal static int HashOf(ReadOnlySpan<byte> key)
    {
        ref var start = ref MemoryMarshal.GetReference(key);
        var length = key.Length;
        var seed = SecretA ^ (ulong)length;
        ulong a;
        ulong b;
        if (length <= 16)
        {
            if (length >= 8)
            {
                // Two overlapping words cover 8..16 bytes.
                a = Unsafe.ReadUnaligned<ulong>(ref start);
                b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, length - 8));
            }
            else if (length >= 4)
            {
                a = Unsafe.ReadUnaligned<uint>(ref start);
                b = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, length - 4));
            }
            else if (length > 0)
            {
                // First, middle and last byte cover 1..3 bytes; the length in the seed tells them apart.
                a = ((ulong)start << 16) | ((ulong)Unsafe.Add(ref start, length >> 1) << 8) | Unsafe.Add(ref start, length - 1);
                b = 0;
            }
            else
            {
                a = 0;
                b = 0;
            }
        }
        else
        {
            var offset = 0;
            for (; length - offset > 16; offset += 16)
            {
                seed = Mix(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset)) ^ SecretB,
                    Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset + 8)) ^ seed);
            }

            // The last 16 bytes (overlapping the loop's last block when the length is not a multiple).
            a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, length - 16));
            b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, length - 8));
        }

        var mixed = Mix(a ^ SecretB, b ^ seed);
        mixed = Mix(mixed ^ SecretA, (ulong)length ^ SecretB);
        return (int)(mixed ^ (mixed >> 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong x, ulong y)
    {
        var high = Math.BigMul(x, y, out var low);
        return high ^ low;
    }

    private static ulong RandomSecret()
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        RandomNumberGenerator.Fill(bytes);
        // Odd, so a multiply by it never loses the low bit.
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes) | 1;
    }
}
