namespace TcpStore.Client;

/// <summary>Base class of every error the TCPStore client reports.</summary>
public class TcpStoreException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public TcpStoreException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public TcpStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public TcpStoreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
