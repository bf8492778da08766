using System.Text;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Bench.Load;

namespace TcpStore.Tests.Bench;

/// <summary>
/// The load generator's RESP reply framing (bench/Load/RespReply.cs, compiled into the tests), which
/// decides how many Redis replies a read completed: every reply kind, every split point, errors
/// counted, malformed input refused.
/// </summary>
public sealed class RespReplyTests
{
    private static readonly byte[] Value = Encoding.ASCII.GetBytes(new string('v', 62) + "\r\n");

    // One of each reply the generator can get, as Redis 7 sends them; the bulk payload holds CRLF.
    private static readonly string[] Replies =
    [
        "$64\r\n" + Encoding.ASCII.GetString(Value) + "\r\n",
        "+OK\r\n",
        ":7\r\n",
        "-ERR value is not an integer or out of range\r\n",
        "$-1\r\n",
        ":-12345678901\r\n",
        "$0\r\n\r\n",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    ];

    [Theory]
    [InlineData("+OK\r\n", RespReplyType.Simple, 0)]
    [InlineData("-ERR unknown command\r\n", RespReplyType.Error, 0)]
    [InlineData(":42\r\n", RespReplyType.Integer, 42)]
    [InlineData(":-3\r\n", RespReplyType.Integer, -3)]
    [InlineData("$5\r\na\r\nbc\r\n", RespReplyType.Bulk, 5)]
    [InlineData("$0\r\n\r\n", RespReplyType.Bulk, 0)]
    [InlineData("$-1\r\n", RespReplyType.Null, 0)]
    public void A_whole_reply_is_measured_with_its_type_and_number(string reply, RespReplyType type, long value)
    {
        var bytes = Encoding.ASCII.GetBytes(reply + "+NEXT\r\n");

        var size = RespReply.Measure(bytes, out var measuredType, out var measuredValue);

        Assert.Equal(reply.Length, size);
        Assert.Equal(type, measuredType);
        Assert.Equal(value, measuredValue);
    }

    [Fact]
    public void Every_proper_prefix_of_a_reply_needs_more_bytes()
    {
        foreach (var reply in Replies.Select(Encoding.ASCII.GetBytes))
        {
            for (var length = 0; length < reply.Length; length++)
            {
                Assert.Equal(0, RespReply.Measure(reply.AsSpan(0, length), out _, out _));
            }

            Assert.Equal(reply.Length, RespReply.Measure(reply, out _, out _));
        }
    }

    [Theory]
    [InlineData("*1\r\n$2\r\nOK\r\n")] // arrays: none of the generator's requests gets one
    [InlineData("OK\r\n")]
    [InlineData("+OK\n")]
    [InlineData("\r\n")]
    [InlineData(":\r\n")]
    [InlineData(":12a\r\n")]
    [InlineData(":1234567890123456789\r\n")]
    [InlineData("$-2\r\n")]
    [InlineData("$x\r\n")]
    [InlineData("$3\r\nabcd\r\n")]
    [InlineData("$99999999999\r\n")]
    public void A_malformed_reply_is_refused(string reply)
    {
        Assert.Equal(-1, RespReply.Measure(Encoding.ASCII.GetBytes(reply), out _, out _));
    }

    [Fact]
    public void A_wrong_first_byte_is_refused_before_any_line_end_arrives()
    {
        Assert.Equal(-1, RespReply.Measure("*"u8, out _, out _));
        Assert.Equal(0, RespReply.Measure("$6"u8, out _, out _));
    }

    [Fact]
    public void The_counter_counts_the_same_replies_whichever_byte_each_read_ends_on()
    {
        var stream = Encoding.ASCII.GetBytes(string.Concat(Replies) + string.Concat(Replies));
        for (var split = 0; split <= stream.Length; split++)
        {
            var counter = Feed(stream, [split]);
            AssertCounted(counter);
        }

        // One byte per read: every reply crosses reads at every position.
        AssertCounted(Feed(stream, Enumerable.Range(1, stream.Length).ToArray()));
    }

    [Fact]
    public void The_counter_keeps_a_partial_reply_and_refuses_a_malformed_one()
    {
        var counter = new RespReplyCounter();

        Assert.Equal(5, counter.Consume("+OK\r\n$64\r\nvv"u8));
        Assert.Equal(1, counter.Replies);
        Assert.Equal(-1, counter.Consume("*2\r\n"u8));
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_and_never_measure_past_the_input()
    {
        var property = Prop.ForAll(Gen.ArrayOf(Gen.Elements("+-:$*\r\n0129-ab"u8.ToArray())).ToArbitrary(), input =>
        {
            var size = RespReply.Measure(input, out _, out _);
            Assert.InRange(size, -1, input.Length);
            Assert.True(new RespReplyCounter().Consume(input) <= input.Length);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), property);
    }

    [Fact]
    public void Requests_are_arrays_of_bulk_strings()
    {
        var request = RespRequest.Encode("SET"u8.ToArray(), "/bench/key:00000001"u8.ToArray(), Value);

        Assert.Equal("*3\r\n$3\r\nSET\r\n$19\r\n/bench/key:00000001\r\n$64\r\n" + Encoding.ASCII.GetString(Value) + "\r\n", Encoding.ASCII.GetString(request));
    }

    // Feeds the stream in reads ending at the given offsets (then the rest), carrying each
    // unconsumed tail to the front of the next read the way the generator does.
    private static RespReplyCounter Feed(byte[] stream, int[] readEnds)
    {
        var counter = new RespReplyCounter();
        var buffer = new byte[stream.Length];
        var buffered = 0;
        var position = 0;
        foreach (var end in readEnds.Append(stream.Length))
        {
            stream.AsSpan(position, end - position).CopyTo(buffer.AsSpan(buffered));
            buffered += end - position;
            position = end;
            var consumed = counter.Consume(buffer.AsSpan(0, buffered));
            Assert.True(consumed >= 0);
            buffer.AsSpan(consumed, buffered - consumed).CopyTo(buffer);
            buffered -= consumed;
        }

        Assert.Equal(0, buffered);
        return counter;
    }

    private static void AssertCounted(RespReplyCounter counter)
    {
        Assert.Equal(2 * Replies.Length, counter.Replies);
        Assert.Equal(4, counter.Errors);
        Assert.Equal(2, counter.Nulls);
        Assert.Equal("ERR value is not an integer or out of range", counter.FirstError);
    }
}
