using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace TcpStore.Codec;

/// <summary>
/// The already-validated key list of a multi-key request, kept in its wire form
/// (<c>u64 len, bytes</c> per key, or per key and value for MULTI_SET) so that no array is built.
/// </summary>
public readonly ref struct KeyList
{
    private readonly ReadOnlySpan<byte> _items;

    /// <summary>Wraps a region the reader has validated.</summary>
    /// <param name="count">Number of keys (or pairs).</param>
    /// <param name="items">The encoded entries.</param>
    /// <param name="pairs">Whether each key is followed by a value.</param>
    /// <remarks>
    /// Always inlined: a one-key CHECK builds one per request in <c>CommonFrames.TryRead</c>, and when the
    /// tiered JIT compiled that method while the traffic was GETs it left this a call, whose result then went
    /// through the stack into the request (three narrow stores read back by one 16-byte load: a
    /// store-forwarding stall), 5 % of a set 16x16 server's samples.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal KeyList(int count, ReadOnlySpan<byte> items, bool pairs)
    {
        Count = count;
        _items = items;
        HasValues = pairs;
    }

    /// <summary>Number of keys (or key/value pairs).</summary>
    public int Count { get; }

    /// <summary>True for MULTI_SET, where each key carries a value.</summary>
    public bool HasValues { get; }

    /// <summary>The encoded entries exactly as they arrived.</summary>
    public ReadOnlySpan<byte> Encoded => _items;

    /// <summary>Enumerates the entries in request order.</summary>
    public Enumerator GetEnumerator() => new(_items, HasValues);

    /// <summary>Allocation-free enumerator over a validated key list.</summary>
    public ref struct Enumerator
    {
        private ReadOnlySpan<byte> _rest;
        private readonly bool _pairs;

        internal Enumerator(ReadOnlySpan<byte> items, bool pairs)
        {
            _rest = items;
            _pairs = pairs;
            Current = default;
        }

        /// <summary>The current key and, for MULTI_SET, its value.</summary>
        public KeyEntry Current { get; private set; }

        /// <summary>Advances to the next entry.</summary>
        public bool MoveNext()
        {
            if (_rest.IsEmpty)
            {
                return false;
            }

            var key = TakeBlob(ref _rest);
            var value = _pairs ? TakeBlob(ref _rest) : default;
            Current = new KeyEntry(key, value);
            return true;
        }

        // Lengths were range-checked by the reader, so the casts cannot truncate.
        private static ReadOnlySpan<byte> TakeBlob(scoped ref ReadOnlySpan<byte> rest)
        {
            var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(rest);
            var blob = rest.Slice(sizeof(ulong), length);
            rest = rest[(sizeof(ulong) + length)..];
            return blob;
        }
    }
}

/// <summary>One entry of a <see cref="KeyList"/>.</summary>
/// <param name="Key">The key.</param>
/// <param name="Value">The value (MULTI_SET only; empty otherwise).</param>
public readonly ref struct KeyEntry(ReadOnlySpan<byte> Key, ReadOnlySpan<byte> Value)
{
    /// <summary>The key.</summary>
    public ReadOnlySpan<byte> Key { get; } = Key;

    /// <summary>The value (MULTI_SET only; empty otherwise).</summary>
    public ReadOnlySpan<byte> Value { get; } = Value;
}
