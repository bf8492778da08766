using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary>
/// DecimalCounter.TryParse against the C library itself: std::stoll is strtoll(base 10) that fails
/// when no digits were converted or errno is ERANGE, so glibc's strtoll is the reference here.
/// </summary>
public sealed unsafe partial class DecimalCounterProperties
{
    private const int ERANGE = 34;

    /// <summary>Characters that matter to stoll: C whitespace, signs, digits, junk, NUL, high bytes.</summary>
    private static Gen<byte> Interesting { get; } = Gen.Elements(
        "0123456789 \t\n\v\f\r+-x.a\0"u8.ToArray().Append((byte)0x85).Append((byte)0xA0).Append((byte)0xFF).ToArray());

    private static Gen<byte[]> Text { get; } = Gen.Frequency(
        (4, Gen.Choose(0, 24).SelectMany(n => Gen.ArrayOf(Interesting, n))),
        (2, from ws in Gen.Elements("", " ", "\t\n ", "\v\f\r")
            from sign in Gen.Elements("", "+", "-", "--", "+-")
            from zeros in Gen.Elements("", "0", "000")
            from digits in Gen.Elements("9223372036854775807", "9223372036854775808", "9223372036854775806", "99999999999999999999", "1", "0", "18446744073709551616", "")
            from junk in Gen.Elements("", "x", " 1", "abc", "\0" + "5")
            select System.Text.Encoding.Latin1.GetBytes(ws + sign + zeros + digits + junk)),
        (1, WireGenerators.AnyLong.Select(n => System.Text.Encoding.ASCII.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture)))),
        (1, WireGenerators.Blob));

    [Fact]
    public void TryParse_matches_glibc_strtoll_with_stoll_failure_rules()
    {
        var property = Prop.ForAll(Text.ToArbitrary(), text =>
        {
            var expectedOk = Stoll(text, out var expected);
            var ok = DecimalCounter.TryParse(text, out var actual);
            Assert.True(expectedOk == ok, $"'{Escape(text)}': stoll ok={expectedOk} ({expected}), ours ok={ok} ({actual})");
            if (ok)
            {
                Assert.Equal(expected, actual);
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(3000), property);
    }

    [Theory]
    [InlineData("-9223372036854775808", true, long.MinValue)]
    [InlineData("9223372036854775807", true, long.MaxValue)]
    [InlineData("9223372036854775808", false, 0L)]
    [InlineData("-9223372036854775809", false, 0L)]
    [InlineData(" \t\n\v\f\r-12abc", true, -12L)]
    [InlineData("+0042", true, 42L)]
    [InlineData("", false, 0L)]
    [InlineData("abc", false, 0L)]
    [InlineData("-", false, 0L)]
    [InlineData("+-1", false, 0L)]
    [InlineData(" 1 2", true, 1L)]
    public void TryParse_agrees_with_strtoll_on_the_edges(string text, bool ok, long value)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(text);
        Assert.Equal(ok, Stoll(bytes, out var reference));
        Assert.Equal(ok, DecimalCounter.TryParse(bytes, out var actual));
        if (ok)
        {
            Assert.Equal(value, reference);
            Assert.Equal(value, actual);
        }
    }

    [Fact]
    public void Format_writes_what_stoll_reads_back()
    {
        var property = Prop.ForAll(WireGenerators.AnyLong.ToArbitrary(), value =>
        {
            Span<byte> text = stackalloc byte[DecimalCounter.MaxLength];
            var written = DecimalCounter.Format(value, text);
            var bytes = text[..written].ToArray();
            Assert.Equal(value.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Text.Encoding.ASCII.GetString(bytes));
            Assert.True(Stoll(bytes, out var back));
            Assert.Equal(value, back);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }

    private static bool Stoll(byte[] text, out long value)
    {
        var terminated = new byte[text.Length + 1];
        text.CopyTo(terminated, 0);
        fixed (byte* start = terminated)
        {
            byte* end = null;
            *ErrnoLocation() = 0;
            value = StrToLL(start, &end, 10);
            var errno = *ErrnoLocation();
            return end != start && errno != ERANGE;
        }
    }

    private static string Escape(byte[] text) => string.Concat(text.Select(b => b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}"));

    [LibraryImport("libc", EntryPoint = "strtoll")]
    private static partial long StrToLL(byte* text, byte** end, int radix);

    [LibraryImport("libc", EntryPoint = "__errno_location")]
    private static partial int* ErrnoLocation();
}
