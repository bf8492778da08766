namespace TcpStore.Server;

/// <summary>Why the server closed (or lost) a connection. Each has a log line and a counter; see docs/limits.md.</summary>
public enum CloseReason
{
    /// <summary>The client closed its end (EOF).</summary>
    ClientClosed,
    /// <summary>The client reset the connection or a socket error occurred.</summary>
    SocketError,
    /// <summary>The first request was not VALIDATE with the right magic.</summary>
    NotValidated,
    /// <summary>A second VALIDATE arrived.</summary>
    RepeatedValidate,
    /// <summary>An unknown command byte.</summary>
    UnknownCommand,
    /// <summary>A key longer than the key limit.</summary>
    KeyTooLong,
    /// <summary>A value longer than the value limit.</summary>
    ValueTooLong,
    /// <summary>More keys in one request than the keys-per-request limit.</summary>
    TooManyKeys,
    /// <summary>ADD on a value that is not a decimal integer.</summary>
    NonNumericAdd,
    /// <summary>Unread input plus unsent output exceeded the per-connection limit.</summary>
    BufferLimit,
    /// <summary>The connection limit was reached when it was accepted.</summary>
    ConnectionLimit,
    /// <summary>The server is stopping.</summary>
    ServerStopping,
    /// <summary>The store engine (for example the etcd cluster) failed to answer a request.</summary>
    EngineUnavailable,
    /// <summary>Output stayed pending with no byte taken by the peer for longer than the send timeout.</summary>
    SendTimeout,
}
