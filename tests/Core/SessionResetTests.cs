using System.Buffers;
using System.Text;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Legacy;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary><see cref="Session.Reset"/>: a disposed session serves a new connection exactly as a new one would.</summary>
public sealed class SessionResetTests
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Encode(params WireRequest[] requests) => Replies.Encode(requests);

    [Fact]
    public void A_reset_session_keeps_nothing_of_its_last_connection()
    {
        var store = new KeyValueStore();
        var session = new Session(store, CodecLimits.Default);
        var first = session.Process(Encode(WireRequest.Validate(), WireRequest.Ping(1), WireRequest.Multi(QueryType.Wait, [B("k")])));
        Assert.Equal(ProtocolError.None, first.Error);
        Assert.True(session.IsWaiting);
        Assert.NotNull(session.Stats);
        Assert.Equal(1, store.AwaitedKeyCount);

        session.Dispose();
        Assert.Equal(0, store.AwaitedKeyCount);
        session.Reset();

        Assert.False(session.IsValidated);
        Assert.False(session.IsWaiting);
        Assert.Null(session.Stats);
        Assert.Equal(0, session.PendingOutputBytes);

        // The closed connection's key appearing wakes nobody.
        store.Set(B("k"), B("v"));
        Assert.Equal(0, session.PendingOutputBytes);

        // Validation starts over, and the session may wait again (it is no longer retired).
        Assert.Equal(ProtocolError.NotValidated, session.Process(Encode(WireRequest.Ping(2))).Error);
        session.Dispose();
        session.Reset();
        var second = session.Process(Encode(WireRequest.Validate(), WireRequest.Multi(QueryType.Wait, [B("w")])));
        Assert.Equal(ProtocolError.None, second.Error);
        Assert.Equal(1, session.Stats!.Requests(QueryType.Wait));
        Assert.Equal(0, session.Stats.Requests(QueryType.Ping));
        store.Set(B("w"), B("v"));
        using var output = new PooledBufferWriter();
        Assert.True(session.TakeOutput(output));
        Assert.Equal([Protocol.StopWaiting], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_reset_session_forgets_the_legacy_table_and_watches_of_its_last_connection()
    {
        var store = new KeyValueStore();
        var session = new Session(store, CodecLimits.Default) { LegacyProtocol = LegacyProtocol.Torch113 };
        var legacy = session.Process(LegacyFrames.Encode(LegacyProtocol.Torch113, WireRequest.KeyOnly(QueryType.WatchKey, B("/w"))));
        Assert.Equal(ProtocolError.None, legacy.Error);
        Assert.Equal(LegacyProtocol.Torch113, session.DetectedLegacyProtocol);
        using (var output = new PooledBufferWriter())
        {
            Assert.True(session.TakeOutput(output));
        }

        session.Dispose();
        session.Reset();
        Assert.Equal(LegacyProtocol.Off, session.DetectedLegacyProtocol);
        Assert.Equal(ProtocolError.None, session.Process(Encode(WireRequest.Validate())).Error);
        Assert.Equal(LegacyProtocol.Off, session.DetectedLegacyProtocol);

        // The old connection's watch is gone: a change of its key sends nothing.
        store.Set(B("/w"), B("v"));
        Assert.Equal(0, session.PendingOutputBytes);
    }

    [Fact]
    public void Only_a_disposed_session_without_an_engine_can_be_reset()
    {
        var session = new Session(new KeyValueStore(), CodecLimits.Default);
        Assert.Throws<InvalidOperationException>(session.Reset);
    }
}
