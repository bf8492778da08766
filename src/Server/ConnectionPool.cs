using Microsoft.Extensions.ObjectPool;

namespace TcpStore.Server;

/// <summary>
/// Closed connections kept for the next accept: the connection object, its session (with its reply
/// buffers' writers, counters and wait bookkeeping) are made once and then reset, instead of made again
/// for every connection (a 19,000-rank barrier whose ranks reconnect makes 19,000 of them each time).
/// </summary>
/// <remarks>
/// <para>
/// ObjectPool is the right tool here: the objects are taken on the accept thread and given back on
/// whichever thread finished the connection, the pool is bounded, and a policy decides per object
/// whether it may be kept. The policy resets the connection on the returning thread, at a point where
/// its transport no longer runs any of its code, and refuses one that still has work in flight (a
/// send waiting for its peer, a flush on the thread pool): that one is simply left to the collector.
/// Everything that may still hold a stale reference checks <see cref="Connection.Generation"/>.
/// </para>
/// <para>
/// Retained connections hold no buffers (reset returns them to the array pool), a few hundred bytes
/// each; <see cref="MaxRetained"/> bounds them at well under a megabyte per server whatever burst
/// of connections closed at once. Beyond the bound a connection is collected, as every one was
/// before pooling.
/// </para>
/// </remarks>
internal sealed class ConnectionPool<T>
    where T : Connection
{
    /// <summary>Most closed connections a server keeps (shared out among its pools).</summary>
    public const int MaxRetained = 1024;

    private readonly ObjectPool<T>? _pool;
    private readonly Func<T> _create;

    /// <param name="create">Makes a connection with no socket yet.</param>
    /// <param name="maxRetained">Most connections this pool keeps.</param>
    /// <param name="enabled">False makes every rent a new connection and drops every return (the behaviour without pooling).</param>
    public ConnectionPool(Func<T> create, int maxRetained, bool enabled)
    {
        _create = create;
        _pool = enabled ? new DefaultObjectPool<T>(new Policy(create), Math.Max(1, maxRetained)) : null;
    }

    /// <summary>A connection ready for <c>Open</c>: a reset one from the pool or a new one (any thread).</summary>
    public T Rent() => _pool is null ? _create() : _pool.Get();

    /// <summary>
    /// Gives a closed connection back, once its transport no longer runs any of its code (any thread):
    /// it is reset and kept, or dropped when it cannot be reused or the pool is full.
    /// </summary>
    public void Return(T connection) => _pool?.Return(connection);

    private sealed class Policy(Func<T> create) : IPooledObjectPolicy<T>
    {
        public T Create() => create();

        public bool Return(T obj) => obj.TryResetForReuse();
    }
}
