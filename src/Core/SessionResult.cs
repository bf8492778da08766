using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>What <see cref="Session.Process"/> did with a chunk of input.</summary>
/// <param name="Consumed">Bytes of whole requests consumed; the rest must be kept and offered again.</param>
/// <param name="Error">Why the connection must be closed (a <see cref="ProtocolError"/> of its bytes or a <see cref="SessionFault"/>), or none.</param>
/// <param name="BytesNeeded">When the tail is an incomplete request: the least total size at which it can progress.</param>
/// <param name="Requests">Requests executed.</param>
public readonly record struct SessionResult(int Consumed, SessionError Error, long BytesNeeded, int Requests);
