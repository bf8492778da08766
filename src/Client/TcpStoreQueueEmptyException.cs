namespace TcpStore.Client;

/// <summary>A non-blocking <c>QueuePop</c> found the queue empty (PyTorch's <c>DistQueueEmptyError</c>).</summary>
public class TcpStoreQueueEmptyException : TcpStoreException
{
    /// <summary>Creates an exception with no message.</summary>
    public TcpStoreQueueEmptyException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public TcpStoreQueueEmptyException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public TcpStoreQueueEmptyException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
