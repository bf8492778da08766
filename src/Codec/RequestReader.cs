using System.Buffers;
using System.Buffers.Binary;

namespace TcpStore.Codec;

/// <summary>
/// Parses requests from a contiguous buffer, one at a time. A frame that is not complete yet is
/// reported as <see cref="ParseStatus.Incomplete"/> without consuming anything, together with a
/// lower bound on the bytes the frame needs (<see cref="BytesNeeded"/>) so callers can avoid
/// re-parsing until that much has arrived. Every length and count is checked against the limits
/// as soon as its 8 bytes are visible, before the payload is waited for or trusted.
/// </summary>
public ref struct RequestReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly CodecLimits _limits;
    private readonly LegacyProtocol _legacy;

    /// <summary>Creates a reader over <paramref name="buffer"/>.</summary>
    /// <param name="buffer">Received bytes, starting at a frame boundary.</param>
    /// <param name="limits">Limits to enforce.</param>
    /// <param name="legacy">The pre-2.2 code table to read, or <see cref="LegacyProtocol.Off"/> for 2.2+ codes.</param>
    public RequestReader(ReadOnlySpan<byte> buffer, CodecLimits limits, LegacyProtocol legacy = LegacyProtocol.Off)
    {
        _buffer = buffer;
        _limits = limits;
        _legacy = legacy;
    }

    /// <summary>Bytes consumed by the frames read so far.</summary>
    public int Consumed { get; private set; }

    /// <summary>Why the last call returned <see cref="ParseStatus.Error"/>.</summary>
    public ProtocolError Error { get; private set; }

    /// <summary>
    /// After <see cref="ParseStatus.Incomplete"/>: the smallest total size of the pending frame
    /// (counted from its first byte) at which parsing can make progress.
    /// </summary>
    public long BytesNeeded { get; private set; }

    /// <summary>The unconsumed bytes.</summary>
    public readonly ReadOnlySpan<byte> Remaining => _buffer[Consumed..];

    /// <summary>Parses the next request.</summary>
    /// <param name="request">The request, when <see cref="ParseStatus.Complete"/>.</param>
    public ParseStatus TryRead(out Request request)
    {
        var input = _buffer[Consumed..];
        // The frames of nearly all traffic, when whole and within the limits, are read without the
        // cursor; anything else (partial, over a limit, another command, a legacy table) goes the
        // general way, which decides every outcome, so the fast path never has to report one.
        if (_legacy == LegacyProtocol.Off && CommonFrames.TryRead(input, _limits, out request, out var size))
        {
            Consumed += size;
            BytesNeeded = 0;
            return ParseStatus.Complete;
        }

        return TryReadGeneral(input, out request);
    }

    /// <summary>
    /// <see cref="TryRead(out Request)"/> without the fast path for common frames, so tests can hold
    /// the two paths against each other.
    /// </summary>
    internal ParseStatus TryReadGeneral(out Request request) => TryReadGeneral(_buffer[Consumed..], out request);

    private ParseStatus TryReadGeneral(ReadOnlySpan<byte> input, out Request request)
    {
        if (input.IsEmpty)
        {
            // The end of every read, so answered before any set-up: one more byte is needed.
            request = default;
            BytesNeeded = 1;
            return ParseStatus.Incomplete;
        }

        var cursor = new Cursor(input);
        Request parsed = default;
        var status = Parse(ref cursor, _limits, _legacy, ref parsed);
        request = parsed;
        switch (status)
        {
            case ParseStatus.Complete:
                Consumed += cursor.Position;
                BytesNeeded = 0;
                break;
            case ParseStatus.Incomplete:
                BytesNeeded = Math.Max(cursor.Needed, input.Length + 1L);
                request = default;
                break;
            default:
                Error = cursor.Error;
                request = default;
                break;
        }

        return status;
    }

    /// <summary>Convenience: parses one request from a sequence that may span segments.</summary>
    /// <remarks>
    /// A frame that lies in the first segment is parsed in place. A frame that crosses segments
    /// is copied into <paramref name="scratch"/> (which must outlive the request) first.
    /// </remarks>
    /// <param name="input">Received bytes.</param>
    /// <param name="limits">Limits to enforce.</param>
    /// <param name="scratch">Buffer used only when a frame spans segments.</param>
    /// <param name="request">The parsed request.</param>
    /// <param name="consumed">Bytes consumed on success.</param>
    /// <param name="error">The error on <see cref="ParseStatus.Error"/>.</param>
    /// <param name="legacy">The pre-2.2 code table to read, or <see cref="LegacyProtocol.Off"/>.</param>
    public static ParseStatus TryRead(
        in ReadOnlySequence<byte> input,
        CodecLimits limits,
        ArrayBufferWriter<byte> scratch,
        out Request request,
        out long consumed,
        out ProtocolError error,
        LegacyProtocol legacy = LegacyProtocol.Off)
    {
        ArgumentNullException.ThrowIfNull(scratch);
        var reader = new RequestReader(input.FirstSpan, limits, legacy);
        var status = reader.TryRead(out request);
        // A frame that crosses segments is copied and re-parsed, growing the copy until the frame
        // completes or the input is exhausted: a MULTI_SET can be far longer than one key and two
        // values, so no single first guess fits every frame.
        long take = input.FirstSpan.Length;
        var available = Math.Min(input.Length, Array.MaxLength);
        while (status == ParseStatus.Incomplete && take < available)
        {
            take = Math.Min(available, Math.Max(reader.BytesNeeded, Math.Max(take * 2, limits.MaxValueLength * 2 + limits.MaxKeyLength + 64)));
            scratch.Clear();
            input.Slice(0, take).CopyTo(scratch.GetSpan((int)take));
            scratch.Advance((int)take);
            reader = new RequestReader(scratch.WrittenSpan, limits, legacy);
            status = reader.TryRead(out request);
        }

        consumed = reader.Consumed;
        error = reader.Error;
        return status;
    }

    private static ParseStatus Parse(scoped ref Cursor cursor, CodecLimits limits, LegacyProtocol legacy, ref Request request)
    {
        if (!cursor.TryTakeByte(out var code))
        {
            return ParseStatus.Incomplete;
        }

        if (legacy != LegacyProtocol.Off)
        {
            if (!LegacyCodes.TryDecode(legacy, code, out request.Type))
            {
                return cursor.Fail(ProtocolError.UnknownCommand);
            }
        }
        else if (code > Protocol.MaxQueryType)
        {
            return cursor.Fail(ProtocolError.UnknownCommand);
        }
        else
        {
            request.Type = (QueryType)code;
        }

        switch (request.Type)
        {
            case QueryType.Validate:
            case QueryType.Ping:
                return cursor.TryTakeUInt32(out request.Word) ? ParseStatus.Complete : ParseStatus.Incomplete;

            case QueryType.GetNumKeys:
            case QueryType.CancelWait:
            case QueryType.ListKeys:
                return ParseStatus.Complete;

            case QueryType.Get:
            case QueryType.DeleteKey:
            case QueryType.WatchKey:
            case QueryType.QueuePop:
            case QueryType.QueueLength:
                return cursor.TryTakeBlob(limits.MaxKeyLength, ProtocolError.KeyTooLong, out request.Key);

            case QueryType.Set:
            case QueryType.Append:
            case QueryType.QueuePush:
                {
                    var status = cursor.TryTakeBlob(limits.MaxKeyLength, ProtocolError.KeyTooLong, out request.Key);
                    return status != ParseStatus.Complete
                        ? status
                        : cursor.TryTakeBlob(limits.MaxValueLength, ProtocolError.ValueTooLong, out request.Value);
                }

            case QueryType.CompareSet:
                {
                    var status = cursor.TryTakeBlob(limits.MaxKeyLength, ProtocolError.KeyTooLong, out request.Key);
                    if (status == ParseStatus.Complete)
                    {
                        status = cursor.TryTakeBlob(limits.MaxValueLength, ProtocolError.ValueTooLong, out request.Value);
                    }

                    return status != ParseStatus.Complete
                        ? status
                        : cursor.TryTakeBlob(limits.MaxValueLength, ProtocolError.ValueTooLong, out request.Desired);
                }

            case QueryType.Add:
                {
                    var status = cursor.TryTakeBlob(limits.MaxKeyLength, ProtocolError.KeyTooLong, out request.Key);
                    if (status != ParseStatus.Complete)
                    {
                        return status;
                    }

                    if (!cursor.TryTakeUInt64(out var delta))
                    {
                        return ParseStatus.Incomplete;
                    }

                    request.Delta = unchecked((long)delta);
                    return ParseStatus.Complete;
                }

            case QueryType.Check:
                {
                    var status = TakeKeyList(ref cursor, limits, pairs: false, out request.Keys);
                    if (status == ParseStatus.Complete && request.Keys.Count == 1)
                    {
                        // The one key also as Key (after its length field), as the fast path sets it.
                        request.Key = request.Keys.Encoded[sizeof(ulong)..];
                    }

                    return status;
                }

            case QueryType.Wait:
            case QueryType.MultiGet:
                return TakeKeyList(ref cursor, limits, pairs: false, out request.Keys);

            case QueryType.MultiSet:
                return TakeKeyList(ref cursor, limits, pairs: true, out request.Keys);

            default:
                return cursor.Fail(ProtocolError.UnknownCommand);
        }
    }

    private static ParseStatus TakeKeyList(scoped ref Cursor cursor, CodecLimits limits, bool pairs, out KeyList keys)
    {
        keys = default;
        if (!cursor.TryTakeUInt64(out var count))
        {
            return ParseStatus.Incomplete;
        }

        if (count > (ulong)limits.MaxKeysPerRequest)
        {
            return cursor.Fail(ProtocolError.TooManyKeys);
        }

        var start = cursor.Position;
        for (ulong i = 0; i < count; i++)
        {
            var status = cursor.TryTakeBlob(limits.MaxKeyLength, ProtocolError.KeyTooLong, out _);
            if (status == ParseStatus.Complete && pairs)
            {
                status = cursor.TryTakeBlob(limits.MaxValueLength, ProtocolError.ValueTooLong, out _);
            }

            if (status != ParseStatus.Complete)
            {
                return status;
            }
        }

        keys = new KeyList((int)count, cursor.Span[start..cursor.Position], pairs);
        return ParseStatus.Complete;
    }

    /// <summary>Position within one candidate frame; tracks how far it got when input runs out.</summary>
    private ref struct Cursor
    {
        public readonly ReadOnlySpan<byte> Span;
        public int Position;
        public long Needed;
        public ProtocolError Error;

        public Cursor(ReadOnlySpan<byte> span)
        {
            Span = span;
            Position = 0;
            Needed = 0;
            Error = ProtocolError.None;
        }

        public ParseStatus Fail(ProtocolError error)
        {
            Error = error;
            return ParseStatus.Error;
        }

        public bool TryTakeByte(out byte value)
        {
            if (Position >= Span.Length)
            {
                Needed = Position + 1L;
                value = 0;
                return false;
            }

            value = Span[Position++];
            return true;
        }

        public bool TryTakeUInt32(out uint value)
        {
            if (Span.Length - Position < sizeof(uint))
            {
                Needed = Position + (long)sizeof(uint);
                value = 0;
                return false;
            }

            value = BinaryPrimitives.ReadUInt32LittleEndian(Span[Position..]);
            Position += sizeof(uint);
            return true;
        }

        public bool TryTakeUInt64(out ulong value)
        {
            if (Span.Length - Position < sizeof(ulong))
            {
                Needed = Position + (long)sizeof(ulong);
                value = 0;
                return false;
            }

            value = BinaryPrimitives.ReadUInt64LittleEndian(Span[Position..]);
            Position += sizeof(ulong);
            return true;
        }

        public ParseStatus TryTakeBlob(long limit, ProtocolError tooLong, out ReadOnlySpan<byte> blob)
        {
            blob = default;
            if (!TryTakeUInt64(out var length))
            {
                return ParseStatus.Incomplete;
            }

            // Compare as unsigned before any narrowing so 2^63 and 2^64-1 are rejected, not wrapped.
            if (length > (ulong)limit)
            {
                return Fail(tooLong);
            }

            var size = (int)length;
            if (Span.Length - Position < size)
            {
                Needed = Position + (long)size;
                return ParseStatus.Incomplete;
            }

            blob = Span.Slice(Position, size);
            Position += size;
            return ParseStatus.Complete;
        }
    }
}
