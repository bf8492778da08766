namespace TcpStore.Codec;

/// <summary>Outcome of one attempt to parse a frame.</summary>
public enum ParseStatus
{
    /// <summary>A whole frame was parsed and consumed.</summary>
    Complete,
    /// <summary>More bytes are needed; nothing was consumed.</summary>
    Incomplete,
    /// <summary>The bytes can never form a valid frame; see the accompanying <see cref="ProtocolError"/>.</summary>
    Error,
}
