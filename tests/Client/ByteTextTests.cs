using System.Text;
using TcpStore.Client;

namespace TcpStore.Tests.Client;

public sealed class ByteTextTests
{
    [Theory]
    [InlineData("hello", "hello")]
    [InlineData("päivää ✓", "päivää ✓")]
    [InlineData("", "")]
    public void Printable_utf8_is_shown_as_is(string text, string shown)
        => Assert.Equal(shown, ByteText.Display(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Anything_else_is_escaped_reversibly()
    {
        Assert.Equal(@"\x00\xffA\n\t\\ é", ByteText.Display([0, 0xFF, (byte)'A', (byte)'\n', (byte)'\t', (byte)'\\', (byte)' ', 0xC3, 0xA9]));
        Assert.Equal(@"line\r\n", ByteText.Display("line\r\n"u8));
        Assert.False(ByteText.IsPrintable([0xC3]));
        Assert.Equal(@"\xc3", ByteText.Display([0xC3]));
    }

    [Fact]
    public void A_backslash_in_the_output_always_starts_an_escape()
    {
        // Text that looks like an escape and the bytes it describes must not print the same.
        Assert.Equal(@"a\\xff", ByteText.Display("a\\xff"u8));
        Assert.Equal(@"a\xff", ByteText.Display([(byte)'a', 0xFF]));
        Assert.Equal(@"C:\\dir", ByteText.Display(@"C:\dir"u8));
    }
}
