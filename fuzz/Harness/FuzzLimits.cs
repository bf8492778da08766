using TcpStore.Codec;

namespace TcpStore.Fuzz.Harness;

/// <summary>Limits the harnesses parse under, and the frame-size bound they imply.</summary>
public static class FuzzLimits
{
    /// <summary>
    /// Small limits, so short fuzz inputs reach every "one byte over the limit" branch; the
    /// defaults would need megabytes of input to get there.
    /// </summary>
    public static CodecLimits Small { get; } = new(MaxKeyLength: 64, MaxValueLength: 256, MaxKeysPerRequest: 8);

    /// <summary>
    /// The largest frame the limits admit: an upper bound on the bytes a connection must buffer
    /// for one request. A reader that asks for more (via BytesNeeded) would let a client make the
    /// server buffer without bound.
    /// </summary>
    public static long MaxFrameBytes(CodecLimits limits)
    {
        var pairs = Math.Max(1, limits.MaxKeysPerRequest) * (16 + limits.MaxKeyLength + limits.MaxValueLength);
        var compareSet = 24 + limits.MaxKeyLength + (2 * limits.MaxValueLength);
        return 1 + 8 + Math.Max(pairs, compareSet);
    }
}
