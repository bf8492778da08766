using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// Why a session's connection must be closed: what its byte stream got wrong
/// (<see cref="Protocol"/>), or what went wrong serving it (<see cref="Fault"/>); at most one is set.
/// </summary>
/// <remarks>
/// Either kind converts implicitly, so code that only deals with the wire keeps speaking
/// <see cref="ProtocolError"/>, and a comparison such as <c>error == ProtocolError.None</c> reads as before.
/// </remarks>
/// <param name="Protocol">What the bytes got wrong, or <see cref="ProtocolError.None"/>.</param>
/// <param name="Fault">What went wrong serving them, or <see cref="SessionFault.None"/>.</param>
public readonly record struct SessionError(ProtocolError Protocol, SessionFault Fault)
{
    /// <summary>No error.</summary>
    public static SessionError None => default;

    /// <summary>Whether there is no error.</summary>
    public bool IsNone => Protocol == ProtocolError.None && Fault == SessionFault.None;

    /// <summary>An error in the byte stream.</summary>
    public static implicit operator SessionError(ProtocolError protocol) => new(protocol, SessionFault.None);

    /// <summary>A fault serving the requests.</summary>
    public static implicit operator SessionError(SessionFault fault) => new(ProtocolError.None, fault);

    /// <summary>An error in the byte stream (the named form of the implicit conversion).</summary>
    public static SessionError FromProtocolError(ProtocolError protocol) => protocol;

    /// <summary>A fault serving the requests (the named form of the implicit conversion).</summary>
    public static SessionError FromSessionFault(SessionFault fault) => fault;

    /// <inheritdoc />
    public override string ToString() => Fault != SessionFault.None ? Fault.ToString() : Protocol.ToString();

    // One int for fields written atomically: the protocol error in the low half, the fault above it.
    internal int ToCode() => (int)Protocol | ((int)Fault << 16);

    internal static SessionError FromCode(int code) => new((ProtocolError)(code & 0xFFFF), (SessionFault)(code >> 16));
}
