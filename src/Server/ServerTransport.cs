namespace TcpStore.Server;

/// <summary>The I/O layer that drives connections.</summary>
public enum ServerTransport
{
    /// <summary>.NET's socket engine: a zero-byte receive per idle connection, completions on the thread pool.</summary>
    Sockets,

    /// <summary>One epoll loop per core on dedicated threads, requests executed inline (Linux x86-64; elsewhere falls back to sockets).</summary>
    Epoll,
}
