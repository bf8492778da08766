using System.Globalization;

namespace TcpStore.Tests.Differential;

/// <summary>The operations the real PyTorch client exposes, as data.</summary>
public enum OpKind
{
    Set,
    Get,
    Add,
    CompareSet,
    Check,
    Wait,
    Delete,
    Append,
    MultiGet,
    MultiSet,
    NumKeys,
    ListKeys,
    QueuePush,
    QueuePop,
    QueueLength,
}

/// <summary>
/// One client call. Keys are names from a small pool (collisions are the point); the runner adds a
/// per-sequence prefix. <see cref="Values"/> pairs with <see cref="Keys"/> for MULTI_SET; Value, Expected
/// and Desired serve SET/APPEND/QUEUE_PUSH and COMPARE_SET.
/// </summary>
public sealed record ClientOp(OpKind Kind, string[] Keys, string Value, string Desired, long Delta, int TimeoutMs, bool Block, string[] Values)
{
    public string Key => Keys.Length > 0 ? Keys[0] : string.Empty;

    public override string ToString() => Kind switch
    {
        OpKind.Set or OpKind.Append or OpKind.QueuePush => $"{Kind}({Key}, \"{Value}\")",
        OpKind.CompareSet => $"{Kind}({Key}, \"{Value}\", \"{Desired}\")",
        OpKind.Add => $"{Kind}({Key}, {Delta.ToString(CultureInfo.InvariantCulture)})",
        OpKind.Wait => $"{Kind}([{string.Join(",", Keys)}], {TimeoutMs}ms)",
        OpKind.QueuePop => $"{Kind}({Key}, block={Block})",
        OpKind.MultiSet => $"{Kind}[{string.Join(",", Keys.Zip(Values, (k, v) => $"{k}=\"{v}\""))}]",
        OpKind.Check or OpKind.MultiGet => $"{Kind}[{string.Join(",", Keys)}]",
        OpKind.NumKeys or OpKind.ListKeys => Kind.ToString(),
        _ => $"{Kind}({Key})",
    };
}
