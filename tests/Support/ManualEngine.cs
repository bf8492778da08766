using System.Collections.Concurrent;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Tests.Support;

/// <summary>A store engine whose requests stay outstanding until the test completes (or fails) them, oldest first.</summary>
internal sealed class ManualEngine : IStoreEngine
{
    private readonly ConcurrentQueue<(TaskCompletionSource<SessionError> Done, PooledBufferWriter Reply)> _pending = new();
    private int _started;

    public int Started => Volatile.Read(ref _started);

    public ValueTask<SessionError> ExecuteAsync(ref Request request, Session session, PooledBufferWriter reply)
    {
        var done = new TaskCompletionSource<SessionError>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending.Enqueue((done, reply));
        Interlocked.Increment(ref _started);
        return new ValueTask<SessionError>(done.Task);
    }

    public void Complete(ReadOnlySpan<byte> value)
    {
        Assert.True(_pending.TryDequeue(out var call));
        call.Reply.WriteBlob(value);
        call.Done.SetResult(SessionError.None);
    }

    public void Fail()
    {
        Assert.True(_pending.TryDequeue(out var call));
        call.Done.SetResult(SessionFault.EngineUnavailable);
    }

    public void Retire(Session session)
    {
    }
}
