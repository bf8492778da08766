using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary>
/// The session's asynchronous path (Session.Engine.cs) against an engine whose requests the test
/// completes by hand, on other threads: Process never waits for the engine, one request is
/// outstanding at a time, replies stay in request order, and wake-ups and failures arrive through
/// the wake-up callback.
/// </summary>
public sealed class SessionEngineTests
{
    [Fact]
    public async Task Process_returns_while_a_request_is_outstanding_and_replies_come_in_request_order()
    {
        var engine = new ManualEngine();
        var wakes = 0;
        var session = new Session(new KeyValueStore(), CodecLimits.Default, _ => Interlocked.Increment(ref wakes), engine);
        var input = Replies.Encode(WireRequest.Validate(), WireRequest.KeyOnly(QueryType.Get, "a"u8.ToArray()), WireRequest.Ping(7), WireRequest.KeyOnly(QueryType.Get, "b"u8.ToArray()));

        // The first half of the stream, then the rest while the first GET is still outstanding.
        var first = session.Process(input.AsSpan(0, 20));
        var second = session.Process(input.AsSpan(20));
        Assert.Equal(20, first.Consumed);
        Assert.Equal(input.Length - 20, second.Consumed);
        Assert.Equal(ProtocolError.None, second.Error);
        Assert.Equal(1, engine.Started);
        Assert.Equal(0, session.PendingOutputBytes);

        await Task.Run(() => engine.Complete("A"u8));

        // The run starts the second GET and only then reports the replies so far (the wake-up), so the
        // test waits for both: reading the count as soon as the GET started raced with that report.
        Assert.True(await Eventually.TrueAsync(() => engine.Started == 2 && Volatile.Read(ref wakes) == 1));
        await Task.Run(() => engine.Complete("B"u8));
        Assert.True(await Eventually.TrueAsync(() => Volatile.Read(ref wakes) == 2));

        var output = new PooledBufferWriter();
        Assert.True(session.TakeOutput(output));
        Assert.Equal(Replies.Blob("A").Concat(Replies.UInt32(7)).Concat(Replies.Blob("B")), output.WrittenSpan.ToArray());
        Assert.False(session.HasEngineWork);
    }

    [Fact]
    public async Task A_wake_from_the_engine_goes_out_between_the_replies_around_it()
    {
        var engine = new ManualEngine();
        var session = new Session(new KeyValueStore(), CodecLimits.Default, _ => { }, engine);
        session.Process(Replies.Encode(WireRequest.Validate(), WireRequest.KeyOnly(QueryType.Get, "a"u8.ToArray()), WireRequest.KeyOnly(QueryType.Get, "b"u8.ToArray())));
        await Task.Run(() => engine.Complete("A"u8));
        Assert.True(await Eventually.TrueAsync(() => engine.Started == 2));
        session.SignalWaitSatisfied();
        await Task.Run(() => engine.Complete("B"u8));
        Assert.True(await Eventually.TrueAsync(() => !session.HasEngineWork));

        var output = new PooledBufferWriter();
        Assert.True(session.TakeOutput(output));
        Assert.Equal(Replies.Blob("A").Append(Protocol.StopWaiting).Concat(Replies.Blob("B")), output.WrittenSpan.ToArray());
    }

    [Fact]
    public async Task An_engine_failure_after_Process_returned_is_reported_through_the_wake_up_callback()
    {
        var engine = new ManualEngine();
        var woken = new TaskCompletionSource();
        var session = new Session(new KeyValueStore(), CodecLimits.Default, _ => woken.TrySetResult(), engine);
        session.Process(Replies.Encode(WireRequest.Validate(), WireRequest.KeyOnly(QueryType.Get, "a"u8.ToArray()), WireRequest.KeyOnly(QueryType.Get, "b"u8.ToArray())));
        await Task.Run(() => engine.Fail());
        await woken.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(SessionFault.EngineUnavailable, session.EngineError.Fault);
        Assert.Equal(1, engine.Started);
        Assert.Equal(SessionFault.EngineUnavailable, session.Process(Replies.Encode(WireRequest.Ping(1))).Error.Fault);
    }

    [Fact]
    public void Protocol_errors_are_found_on_the_engine_path_too()
    {
        var session = new Session(new KeyValueStore(), CodecLimits.Default, _ => { }, new ManualEngine());
        Assert.Equal(ProtocolError.NotValidated, session.Process(Replies.Encode(WireRequest.Ping(1))).Error);

        var validated = new Session(new KeyValueStore(), CodecLimits.Default, _ => { }, new ManualEngine());
        Assert.Equal(ProtocolError.UnknownCommand, validated.Process([.. Replies.Encode(WireRequest.Validate()), 0xEE]).Error);
    }
}
