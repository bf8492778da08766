using System.Text;

namespace TcpStore.Bench.Load;

/// <summary>The kinds of RESP2 reply that <c>load</c>'s requests to Redis get back.</summary>
public enum RespReplyType : byte
{
    /// <summary><c>+OK\r\n</c>: a simple string (SET's reply).</summary>
    Simple,

    /// <summary><c>-ERR ...\r\n</c>: an error reply.</summary>
    Error,

    /// <summary><c>:42\r\n</c>: an integer (INCRBY's reply).</summary>
    Integer,

    /// <summary><c>$5\r\nhello\r\n</c>: a bulk string (GET of a present key).</summary>
    Bulk,

    /// <summary><c>$-1\r\n</c>: the null bulk string (GET of a missing key).</summary>
    Null,
}

/// <summary>
/// Framing of RESP2 replies for the load generator: how long the first whole reply in a buffer is,
/// its type and its number. Stateless, so a caller that keeps a partial reply's bytes at the front
/// of its buffer (as <see cref="ClosedLoop"/> does) can call it again after every read, whatever
/// byte a read ends on; it never allocates.
/// </summary>
/// <remarks>
/// Only the replies GET, SET and INCRBY can produce are accepted: simple strings, errors, integers
/// and bulk strings (including null). Arrays and anything else are malformed here, because none of
/// the generator's requests can produce one.
/// </remarks>
public static class RespReply
{
    /// <summary>
    /// Measures the first reply of <paramref name="data"/>.
    /// </summary>
    /// <param name="data">Received bytes, starting at a reply boundary.</param>
    /// <param name="type">The reply's type, when whole.</param>
    /// <param name="value">The integer of an <see cref="RespReplyType.Integer"/>, the payload length of a <see cref="RespReplyType.Bulk"/>, otherwise 0.</param>
    /// <returns>The reply's size in bytes when <paramref name="data"/> holds all of it; 0 when more bytes are needed; -1 when it is malformed.</returns>
    public static int Measure(ReadOnlySpan<byte> data, out RespReplyType type, out long value)
    {
        type = RespReplyType.Simple;
        value = 0;
        if (data.IsEmpty)
        {
            return 0;
        }

        // Reject a wrong first byte at once rather than waiting for a line end that may never come.
        switch (data[0])
        {
            case (byte)'+':
                type = RespReplyType.Simple;
                break;
            case (byte)'-':
                type = RespReplyType.Error;
                break;
            case (byte)':':
                type = RespReplyType.Integer;
                break;
            case (byte)'$':
                type = RespReplyType.Bulk;
                break;
            default:
                return -1;
        }

        // The header line ends at the first LF; a bulk payload comes after it, so an LF inside a
        // payload is never mistaken for the header's end.
        var lf = data.IndexOf((byte)'\n');
        if (lf < 0)
        {
            return 0;
        }

        if (lf < 2 || data[lf - 1] != (byte)'\r')
        {
            return -1;
        }

        var lineEnd = lf + 1;
        var text = data[1..(lf - 1)];
        switch (type)
        {
            case RespReplyType.Simple:
            case RespReplyType.Error:
                return lineEnd;
            case RespReplyType.Integer:
                return TryParseInteger(text, out value) ? lineEnd : -1;
        }

        if (!TryParseInteger(text, out var length) || length < -1)
        {
            return -1;
        }

        if (length == -1)
        {
            type = RespReplyType.Null;
            return lineEnd;
        }

        // Payload and its CRLF; a length no buffer of ours could hold is malformed, not "incomplete".
        if (length > int.MaxValue - lineEnd - 2)
        {
            return -1;
        }

        var size = lineEnd + (int)length + 2;
        if (data.Length < size)
        {
            return 0;
        }

        if (data[size - 2] != (byte)'\r' || data[size - 1] != (byte)'\n')
        {
            return -1;
        }

        value = length;
        return size;
    }

    /// <summary>The text of a whole <see cref="RespReplyType.Error"/> reply (allocates: for reporting, not per reply).</summary>
    public static string ErrorText(ReadOnlySpan<byte> reply) =>
        reply.Length >= 3 && reply[0] == (byte)'-' ? Encoding.ASCII.GetString(reply[1..^2]) : string.Empty;

    // An optional minus sign and 1-18 decimal digits (enough for any reply here, and no overflow).
    private static bool TryParseInteger(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        var negative = !text.IsEmpty && text[0] == (byte)'-';
        var digits = negative ? text[1..] : text;
        if (digits.IsEmpty || digits.Length > 18)
        {
            return false;
        }

        foreach (var b in digits)
        {
            var digit = b - (byte)'0';
            if ((uint)digit > 9)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        if (negative)
        {
            value = -value;
        }

        return true;
    }
}

/// <summary>
/// Counts whole RESP replies over a stream read in pieces: the caller passes what it has buffered,
/// drops the bytes <see cref="Consume"/> returns and keeps the rest (a partial reply) in front of the
/// next read. Used to wait for the replies to the populating SETs, and by the tests.
/// </summary>
public sealed class RespReplyCounter
{
    /// <summary>Whole replies seen, errors and nulls included.</summary>
    public long Replies { get; private set; }

    /// <summary>Error replies among <see cref="Replies"/>.</summary>
    public long Errors { get; private set; }

    /// <summary>Null bulk strings among <see cref="Replies"/>.</summary>
    public long Nulls { get; private set; }

    /// <summary>The first error reply's text, if any.</summary>
    public string? FirstError { get; private set; }

    /// <summary>Counts every whole reply at the front of <paramref name="data"/>.</summary>
    /// <returns>Bytes taken by whole replies (a trailing partial one is left), or -1 on a malformed reply.</returns>
    public int Consume(ReadOnlySpan<byte> data)
    {
        var offset = 0;
        while (true)
        {
            var size = RespReply.Measure(data[offset..], out var type, out _);
            if (size <= 0)
            {
                return size < 0 ? -1 : offset;
            }

            Replies++;
            if (type == RespReplyType.Error)
            {
                Errors++;
                FirstError ??= RespReply.ErrorText(data.Slice(offset, size));
            }
            else if (type == RespReplyType.Null)
            {
                Nulls++;
            }

            offset += size;
        }
    }
}
