namespace TcpStore.Client;

/// <summary>
/// A wait (explicit <c>Wait</c>, or the wait inside <c>Get</c>, <c>MultiGet</c> and a blocking
/// <c>QueuePop</c>) ran out of time, or the server did not answer a request in time.
/// </summary>
public class TcpStoreTimeoutException : TcpStoreException
{
    /// <summary>Creates an exception with no message.</summary>
    public TcpStoreTimeoutException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public TcpStoreTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public TcpStoreTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates a wait timeout that names the keys that were still missing when it expired.</summary>
    /// <param name="timeout">The wait's time limit.</param>
    /// <param name="missingKeys">The keys (as the caller named them) that did not exist at the deadline.</param>
    public TcpStoreTimeoutException(TimeSpan timeout, IReadOnlyList<string> missingKeys)
        : base(Describe(timeout, missingKeys))
    {
        Timeout = timeout;
        MissingKeys = missingKeys ?? [];
    }

    /// <summary>The time limit that expired.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The keys still missing at the deadline; empty when the timeout was not a wait on keys.</summary>
    public IReadOnlyList<string> MissingKeys { get; } = [];

    private static string Describe(TimeSpan timeout, IReadOnlyList<string> missingKeys)
    {
        var keys = missingKeys is null || missingKeys.Count == 0
            ? "none (they appeared just after the deadline)"
            : string.Join(", ", missingKeys);
        return $"wait timed out after {timeout.TotalMilliseconds:0} ms; keys still missing: {keys}";
    }
}
