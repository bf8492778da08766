namespace TcpStore.Codec;

/// <summary>
/// Why a byte stream can never become a valid request. Each one closes the connection. Reasons that
/// are not in the bytes (a buffer limit, a failing store engine) are the session's: see TcpStore.Core.SessionFault.
/// </summary>
public enum ProtocolError
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>The command byte is not a known query type.</summary>
    UnknownCommand,
    /// <summary>A key or queue name is longer than the key limit.</summary>
    KeyTooLong,
    /// <summary>A value is longer than the value limit.</summary>
    ValueTooLong,
    /// <summary>A key count is larger than the keys-per-request limit.</summary>
    TooManyKeys,
    /// <summary>The first request was not VALIDATE, or its magic was wrong.</summary>
    NotValidated,
    /// <summary>VALIDATE arrived after the connection was already validated.</summary>
    RepeatedValidate,
}
