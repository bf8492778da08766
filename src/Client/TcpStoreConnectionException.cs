namespace TcpStore.Client;

/// <summary>
/// The client could not reach the server (refused, unreachable, timed out while connecting) or the
/// connection broke (reset, closed by the server, or a reply that breaks the protocol). The client
/// drops the broken connection; the next call opens a new one.
/// </summary>
public class TcpStoreConnectionException : TcpStoreException
{
    /// <summary>Creates an exception with no message.</summary>
    public TcpStoreConnectionException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public TcpStoreConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public TcpStoreConnectionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a failure talking to <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">The server, as <c>host:port</c>.</param>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The socket error, if any.</param>
    public TcpStoreConnectionException(string endpoint, string message, Exception? innerException)
        : base($"{endpoint}: {message}", innerException)
    {
        Endpoint = endpoint;
    }

    /// <summary>The server the client was talking to, as <c>host:port</c>.</summary>
    public string? Endpoint { get; }
}
