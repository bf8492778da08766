namespace TcpStore.Client;

/// <summary>
/// The connection broke after a request that must not be repeated (ADD, APPEND, COMPARE_SET, QUEUE_PUSH, QUEUE_POP)
/// was sent and before the server confirmed it: the server may or may not have applied it, and sending it again could
/// apply it twice. The client does not retry it; the caller decides (for example by reading the key). The broken
/// connection is dropped and the next call connects again (to the next endpoint when several are configured).
/// </summary>
public class TcpStoreOutcomeUnknownException : TcpStoreConnectionException
{
    /// <summary>Creates an exception with no message.</summary>
    public TcpStoreOutcomeUnknownException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public TcpStoreOutcomeUnknownException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public TcpStoreOutcomeUnknownException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a request whose outcome on <paramref name="endpoint"/> is unknown.</summary>
    /// <param name="endpoint">The server, as <c>host:port</c>.</param>
    /// <param name="request">The request (<c>ADD</c>, ...) that may or may not have been applied.</param>
    /// <param name="innerException">The connection failure.</param>
    public TcpStoreOutcomeUnknownException(string endpoint, string request, Exception? innerException)
        : base(endpoint, $"the connection broke after {request} was sent and before it was confirmed: the outcome is unknown (it may or may not have been applied); {request} is not retried because repeating it could apply it twice", innerException)
    {
        Request = request;
    }

    /// <summary>The request whose outcome is unknown (<c>ADD</c>, <c>APPEND</c>, ...).</summary>
    public string? Request { get; }
}
