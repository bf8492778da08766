using System.Globalization;
using System.Text;

namespace TcpStore.Client;

/// <summary>Shows keys and values to people: printable UTF-8 as is, anything else escaped.</summary>
public static class ByteText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Whether <paramref name="bytes"/> is valid UTF-8 without control characters.</summary>
    public static bool IsPrintable(ReadOnlySpan<byte> bytes)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The text itself when it is printable UTF-8 without a backslash; otherwise an escaped form in which printable
    /// characters stay, a backslash becomes <c>\\</c>, tab, newline and carriage return become <c>\t</c>, <c>\n</c>,
    /// <c>\r</c>, and every other byte becomes <c>\xHH</c>. A backslash in the output therefore always starts an
    /// escape: the text <c>a\xff</c> shows as <c>a\\xff</c>, the bytes <c>61 ff</c> as <c>a\xff</c>.
    /// </summary>
    public static string Display(ReadOnlySpan<byte> bytes)
        => IsPrintable(bytes) && !bytes.Contains((byte)'\\') ? Encoding.UTF8.GetString(bytes) : Escape(bytes);

    /// <summary>The escaped form described in <see cref="Display"/>, applied unconditionally.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length + 8);
        while (!bytes.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (status == System.Buffers.OperationStatus.Done && consumed > 1 && IsPrintable(bytes[..consumed]))
            {
                sb.Append(rune.ToString());
            }
            else
            {
                var b = bytes[0];
                consumed = 1;
                _ = b switch
                {
                    (byte)'\\' => sb.Append(@"\\"),
                    (byte)'\t' => sb.Append(@"\t"),
                    (byte)'\n' => sb.Append(@"\n"),
                    (byte)'\r' => sb.Append(@"\r"),
                    >= 0x20 and < 0x7F => sb.Append((char)b),
                    _ => sb.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}"),
                };
            }

            bytes = bytes[consumed..];
        }

        return sb.ToString();
    }
}
