using System.Buffers;
using System.Text;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Tests.Core;

/// <summary>
/// Wake-ups that reach an idle session are kept as a count (no buffer per woken connection) and must
/// still come out exactly once and in order relative to the session's other output.
/// </summary>
public sealed class IdleWakeTests
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Frame(Action<ArrayBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static Session Waiting(KeyValueStore store, string key, Action onWake)
    {
        var session = new Session(store, CodecLimits.Default, _ => onWake());
        var input = Frame(w => RequestWriter.WriteValidate(w)).Concat(Frame(w =>
        {
            RequestWriter.WriteMultiHeader(w, QueryType.Wait, 1);
            w.WriteBlob(B(key));
        })).ToArray();
        var result = session.Process(input);
        Assert.Equal(ProtocolError.None, result.Error);
        Assert.Equal(input.Length, result.Consumed);
        using var nothing = new PooledBufferWriter();
        Assert.False(session.TakeOutput(nothing));
        return session;
    }

    [Fact]
    public void A_wake_while_idle_is_taken_as_a_count_exactly_once()
    {
        var store = new KeyValueStore();
        var notified = 0;
        var session = Waiting(store, "k", () => notified++);
        Assert.Equal(0, session.PendingOutputBytes);

        store.Set(B("k"), B("v"));
        Assert.Equal(1, notified);
        Assert.Equal(1, session.PendingOutputBytes);
        Assert.True(session.TryTakeWakesOnly(out var count));
        Assert.Equal(1, count);
        Assert.False(session.TryTakeWakesOnly(out _));
        using var output = new PooledBufferWriter();
        Assert.False(session.TakeOutput(output));
    }

    [Fact]
    public void A_wake_while_idle_comes_before_the_replies_of_the_next_read()
    {
        var store = new KeyValueStore();
        var session = Waiting(store, "a", () => { });
        store.Set(B("a"), B("1"));
        Assert.Equal(1, session.PendingOutputBytes);

        // The next read's reply (ADD -> 5) must follow the STOP_WAITING byte, which it takes along.
        var add = Frame(w => RequestWriter.WriteAdd(w, default, B("n"), 5));
        Assert.Equal(ProtocolError.None, session.Process(add).Error);
        Assert.False(session.TryTakeWakesOnly(out _));
        using var output = new PooledBufferWriter();
        Assert.True(session.TakeOutput(output));
        byte[] expected = [Protocol.StopWaiting, 5, 0, 0, 0, 0, 0, 0, 0];
        Assert.Equal(expected, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Wakes_of_a_disposed_session_are_dropped()
    {
        var store = new KeyValueStore();
        var notified = 0;
        var session = Waiting(store, "k", () => notified++);
        store.Set(B("k"), B("v"));
        session.Dispose();
        Assert.False(session.TryTakeWakesOnly(out var count));
        Assert.Equal(0, count);
        Assert.Equal(0, session.PendingOutputBytes);
    }
}
