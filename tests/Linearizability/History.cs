namespace TcpStore.Tests.Linearizability;

/// <summary>The operations the workload issues.</summary>
public enum OpKind
{
    Add,
    CompareSet,
    Set,
    Append,
    Get,
    Wait,
    Delete,
}

/// <summary>
/// One completed operation: who, what, on which key, with which argument and result, and the
/// real-time interval [Invoked, Returned] (Stopwatch ticks) in which it took effect.
/// </summary>
/// <param name="Client">Issuing client.</param>
/// <param name="Kind">Operation.</param>
/// <param name="Key">Wire key.</param>
/// <param name="Argument">SET/APPEND value, ADD delta (as text), or COMPARE_SET expected value.</param>
/// <param name="Desired">COMPARE_SET desired value.</param>
/// <param name="Result">GET value, ADD sum (as text), COMPARE_SET reply, DELETE "1"/"0".</param>
/// <param name="Invoked">Timestamp just before the request was sent.</param>
/// <param name="Returned">Timestamp just after the reply (or, for replyless SET/APPEND, a later reply on the same connection) arrived.</param>
public sealed record Op(int Client, OpKind Kind, string Key, string Argument, string Desired, string Result, long Invoked, long Returned)
{
    /// <summary>Whether this operation finished before <paramref name="other"/> began (real-time order).</summary>
    public bool Precedes(Op other) => Returned < other.Invoked;
}
