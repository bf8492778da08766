namespace TcpStore.Codec;

/// <summary>
/// The one-byte command code that starts every request (PyTorch 2.2+ numbering).
/// </summary>
public enum QueryType : byte
{
    /// <summary>Connection validation; must be the first request, carries a 32-bit magic, no reply.</summary>
    Validate = 0,
    /// <summary>Store a value under a key; no reply.</summary>
    Set = 1,
    /// <summary>Compare-and-swap; replies with the resulting bytes.</summary>
    CompareSet = 2,
    /// <summary>Read a key; replies with its value (empty when missing).</summary>
    Get = 3,
    /// <summary>Atomically add to an ASCII-decimal counter; replies with the new value.</summary>
    Add = 4,
    /// <summary>Replies whether every listed key exists.</summary>
    Check = 5,
    /// <summary>Replies once every listed key exists.</summary>
    Wait = 6,
    /// <summary>Replies with the number of keys in the key-value map.</summary>
    GetNumKeys = 7,
    /// <summary>Deletes a key; replies with the number deleted.</summary>
    DeleteKey = 8,
    /// <summary>Appends bytes to a key's value (creating it); no reply.</summary>
    Append = 9,
    /// <summary>Replies with the values of several keys.</summary>
    MultiGet = 10,
    /// <summary>Stores several key/value pairs; no reply.</summary>
    MultiSet = 11,
    /// <summary>Cancels this connection's pending wait; always replies WAIT_CANCELED.</summary>
    CancelWait = 12,
    /// <summary>Echoes a 32-bit nonce.</summary>
    Ping = 13,
    /// <summary>Pushes a value onto a named FIFO queue; no reply.</summary>
    QueuePush = 14,
    /// <summary>Pops from a named queue; replies with the length before the pop and, if non-zero, the value.</summary>
    QueuePop = 15,
    /// <summary>Replies with the length of a named queue.</summary>
    QueueLength = 16,
    /// <summary>Replies with every key of the key-value map.</summary>
    ListKeys = 17,
    /// <summary>
    /// PyTorch 1.13/2.0 only (legacy code 7): register for change notifications on a key. Never a
    /// 2.2+ wire code; <see cref="LegacyCodes"/> produces it.
    /// </summary>
    WatchKey = 0xF7,
}
