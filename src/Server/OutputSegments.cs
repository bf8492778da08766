using Microsoft.Extensions.ObjectPool;
using TcpStore.Codec;

namespace TcpStore.Server;

/// <summary>
/// The reply buffers queued behind a pending send (see <see cref="Connection"/>). They come and go
/// with every read of a connection whose peer is slow to read, from any thread, so they are pooled:
/// ObjectPool is the right tool for small objects that are cheap to reset and taken and returned
/// at a high rate across threads. A returned buffer gives its array back to the array pool first,
/// so the pool holds only empty writers (a few dozen bytes each).
/// </summary>
internal static class OutputSegments
{
    private static readonly ObjectPool<PooledBufferWriter> Pool =
        new DefaultObjectPool<PooledBufferWriter>(new Policy(), maximumRetained: 4096);

    public static PooledBufferWriter Get() => Pool.Get();

    public static void Return(PooledBufferWriter writer) => Pool.Return(writer);

    private sealed class Policy : PooledObjectPolicy<PooledBufferWriter>
    {
        public override PooledBufferWriter Create() => new();

        public override bool Return(PooledBufferWriter obj)
        {
            obj.Release();
            return true;
        }
    }
}
