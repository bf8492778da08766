using System.Net.Sockets;

namespace TcpStore.Server;

/// <summary>
/// One I/O layer behind <see cref="TcpStoreServer"/>: it owns its accept loop and whatever drives its
/// connections (event loops or socket completions). The server keeps the listener's lifetime and the
/// decision to admit; the transport only asks through <see cref="IConnectionAdmission"/>.
/// </summary>
/// <remarks>
/// Disposing stops accepting and waits until the transport's threads no longer touch the listener or
/// any connection's descriptor, so the server may then close both without racing the transport.
/// </remarks>
internal interface IServerTransport : IAsyncDisposable
{
    /// <summary>Starts accepting on a bound, listening socket.</summary>
    void Start(Socket listener, IConnectionAdmission admission);
}

/// <summary>Why a freshly accepted connection may or may not be served.</summary>
internal enum Admission
{
    /// <summary>Serve it.</summary>
    Admit,

    /// <summary>The server is draining for stop.</summary>
    Stopping,

    /// <summary>The connection limit is reached.</summary>
    OverLimit,
}

/// <summary>The server's side of accepting: admission, tracking and counting (any transport thread).</summary>
internal interface IConnectionAdmission
{
    /// <summary>The server that owns the connections.</summary>
    TcpStoreServer Server { get; }

    /// <summary>What every connection needs from the options.</summary>
    ConnectionSettings Settings { get; }

    /// <summary>Whether closed connections are kept for reuse (<see cref="TcpStoreServerOptions.PoolConnections"/>; never with a store engine).</summary>
    bool PoolConnections { get; }

    /// <summary>Whether a connection accepted now may be served.</summary>
    Admission Check();

    /// <summary>Counts (and where it is worth it, logs) a connection refused for <paramref name="why"/>.</summary>
    /// <param name="why">The refusal <see cref="Check"/> gave.</param>
    /// <param name="peer">Produces the peer's address, called only when it is logged.</param>
    /// <param name="state">Passed to <paramref name="peer"/>.</param>
    void Refuse<T>(Admission why, Func<T, string> peer, T state);

    /// <summary>Tracks (for stop and metrics) a connection about to be served.</summary>
    void Admit(Connection connection);

    /// <summary>An accept call failed for lack of descriptors or memory (rate-limited warning).</summary>
    void AcceptFailed(string error);
}
