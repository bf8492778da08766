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
    MultiSet,
    MultiGet,
    Check,
}

/// <summary>
/// One completed operation: who, what, on which key, with which argument and result, and the
/// real-time interval [Invoked, Returned] (Stopwatch ticks) in which it took effect.
/// </summary>
/// <param name="Client">Issuing client.</param>
/// <param name="Kind">Operation.</param>
/// <param name="Key">Wire key, or for an operation on a key family (groups, wait keys) the family's name.</param>
/// <param name="Argument">SET/APPEND value, ADD delta (as text), or COMPARE_SET expected value.</param>
/// <param name="Desired">COMPARE_SET desired value.</param>
/// <param name="Result">GET value, ADD sum (as text), COMPARE_SET reply, DELETE "1"/"0", CHECK "1"/"0".</param>
/// <param name="Invoked">Timestamp just before the request was sent.</param>
/// <param name="Returned">Timestamp just after the reply (or, for replyless SET/APPEND, a later reply on the same connection) arrived.</param>
public sealed record Op(int Client, OpKind Kind, string Key, string Argument, string Desired, string Result, long Invoked, long Returned)
{
    /// <summary>The wire keys of a multi-key operation or of an operation on a key family; empty when <see cref="Key"/> is the wire key.</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];

    /// <summary>MULTI_SET values or MULTI_GET results, one per key of <see cref="Keys"/>.</summary>
    public IReadOnlyList<string> Values { get; init; } = [];

    /// <summary>The wire keys the operation touched.</summary>
    public IReadOnlyList<string> WireKeys => Keys.Count > 0 ? Keys : [Key];

    /// <summary>Whether this operation finished before <paramref name="other"/> began (real-time order).</summary>
    public bool Precedes(Op other) => Returned < other.Invoked;

    /// <summary>A short description for failure messages.</summary>
    public string Describe()
    {
        var keys = string.Join(',', WireKeys);
        var detail = Kind switch
        {
            OpKind.Set or OpKind.Append => $"{keys}={Argument}",
            OpKind.MultiSet => string.Join(',', WireKeys.Zip(Values, (k, v) => $"{k}={v}")),
            OpKind.MultiGet => $"{keys} -> {string.Join(',', Values.Select(v => v.Length == 0 ? "(missing)" : v))}",
            OpKind.Wait => keys,
            _ => $"{keys} -> {(Result.Length == 0 ? "(missing)" : Result)}",
        };
        return $"client {Client} {Kind} {detail} [{Invoked}, {Returned}]";
    }
}
