namespace TcpStore.Core;

/// <summary>
/// Why a session's connection must be closed for a reason that is not in its bytes (those are
/// <see cref="TcpStore.Codec.ProtocolError"/>): serving the requests went wrong.
/// </summary>
public enum SessionFault
{
    /// <summary>No fault.</summary>
    None = 0,

    /// <summary>The connection buffered more than its per-connection limit (unread input plus unsent output).</summary>
    BufferLimit,

    /// <summary>The store engine (for example the etcd cluster) could not answer correctly; the connection is closed rather than answered wrongly.</summary>
    EngineUnavailable,

    /// <summary>ADD on a stored value that is not a decimal integer (C stoll semantics), or that overflows: the request was well formed, the value it met was not.</summary>
    NonNumericAdd,
}
