using System.Buffers.Binary;

namespace TcpStore.Codec;

/// <summary>
/// Reads reply fields from a contiguous buffer. Each <c>TryRead*</c> either consumes a whole field
/// or nothing, so a caller can retry after more bytes arrive.
/// </summary>
public ref struct ResponseReader
{
    private readonly ReadOnlySpan<byte> _buffer;

    /// <summary>Creates a reader over received reply bytes.</summary>
    public ResponseReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
    }

    /// <summary>Bytes consumed so far.</summary>
    public int Consumed { get; private set; }

    /// <summary>Reads a one-byte reply.</summary>
    public bool TryReadByte(out byte value)
    {
        if (_buffer.Length - Consumed < 1)
        {
            value = 0;
            return false;
        }

        value = _buffer[Consumed++];
        return true;
    }

    /// <summary>Reads a 32-bit reply (the PING echo).</summary>
    public bool TryReadUInt32(out uint value)
    {
        if (_buffer.Length - Consumed < sizeof(uint))
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt32LittleEndian(_buffer[Consumed..]);
        Consumed += sizeof(uint);
        return true;
    }

    /// <summary>Reads a 64-bit reply (ADD result, counts, lengths).</summary>
    public bool TryReadInt64(out long value)
    {
        if (_buffer.Length - Consumed < sizeof(long))
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadInt64LittleEndian(_buffer[Consumed..]);
        Consumed += sizeof(long);
        return true;
    }

    /// <summary>Reads a length-prefixed byte string, refusing lengths above <paramref name="maxLength"/>.</summary>
    /// <exception cref="InvalidDataException">The announced length exceeds <paramref name="maxLength"/>.</exception>
    public bool TryReadBlob(long maxLength, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (_buffer.Length - Consumed < sizeof(ulong))
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt64LittleEndian(_buffer[Consumed..]);
        if (length > (ulong)maxLength)
        {
            throw new InvalidDataException($"reply length {length} exceeds the limit {maxLength}");
        }

        if ((ulong)(_buffer.Length - Consumed - sizeof(ulong)) < length)
        {
            return false;
        }

        value = _buffer.Slice(Consumed + sizeof(ulong), (int)length);
        Consumed += sizeof(ulong) + (int)length;
        return true;
    }
}
