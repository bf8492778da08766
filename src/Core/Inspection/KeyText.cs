using System.Text;

namespace TcpStore.Core.Inspection;

/// <summary>Shows keys to operators: printable UTF-8 as is, anything else escaped.</summary>
public static class KeyText
{
    /// <summary>
    /// The key as text; bytes that are not printable (control characters, invalid UTF-8, a
    /// backslash) are written as <c>\xHH</c>, so the text is unambiguous and safe in a terminal or page.
    /// </summary>
    public static string Printable(ReadOnlySpan<byte> key)
    {
        var text = new StringBuilder(key.Length);
        var i = 0;
        while (i < key.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(key[i..], out var rune, out var used);
            if (status == System.Buffers.OperationStatus.Done && !Rune.IsControl(rune) && rune.Value != '\\')
            {
                text.Append(rune.ToString());
                i += used;
            }
            else
            {
                text.Append("\\x").Append(key[i].ToString("x2"));
                i++;
            }
        }

        return text.ToString();
    }
}
