using System.Buffers.Text;

namespace TcpStore.Core;

/// <summary>
/// The ADD counter format: values are parsed the way C's <c>stoll</c> does (leading whitespace,
/// optional sign, base-10 digits up to the first non-digit, failure on no digits or overflow) and
/// stored back as plain ASCII decimal, exactly as PyTorch's servers do.
/// </summary>
public static class DecimalCounter
{
    /// <summary>Longest decimal text of a 64-bit integer ("-9223372036854775808").</summary>
    public const int MaxLength = 20;

    /// <summary>Parses like <c>std::stoll(value, nullptr, 10)</c>.</summary>
    /// <returns>False when stoll would throw (no digits, or out of range).</returns>
    public static bool TryParse(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        var i = 0;
        while (i < text.Length && IsCSpace(text[i]))
        {
            i++;
        }

        var negative = false;
        if (i < text.Length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
        {
            negative = text[i] == (byte)'-';
            i++;
        }

        var start = i;
        // Accumulate as a negative number: its range is one larger, so "-9223372036854775808" fits.
        long accumulator = 0;
        while (i < text.Length && (uint)(text[i] - '0') <= 9)
        {
            var digit = text[i] - '0';
            if (accumulator < (long.MinValue + digit) / 10)
            {
                return false;
            }

            accumulator = (accumulator * 10) - digit;
            i++;
        }

        if (i == start)
        {
            return false;
        }

        if (negative)
        {
            value = accumulator;
            return true;
        }

        if (accumulator == long.MinValue)
        {
            return false;
        }

        value = -accumulator;
        return true;
    }

    /// <summary>Writes the ASCII decimal form of <paramref name="value"/>.</summary>
    /// <returns>The number of bytes written.</returns>
    public static int Format(long value, Span<byte> destination)
    {
        Utf8Formatter.TryFormat(value, destination, out var written);
        return written;
    }

    // The C locale's isspace set.
    private static bool IsCSpace(byte c) => c == (byte)' ' || (c >= (byte)'\t' && c <= (byte)'\r');
}
