namespace TcpStore.Codec;

/// <summary>
/// Size limits that the request reader enforces before it trusts any length or count on the
/// wire. The defaults are the limits of PyTorch's libuv server, so any client that works with a
/// default PyTorch server works with ours.
/// </summary>
/// <param name="MaxKeyLength">Longest key or queue name, in bytes.</param>
/// <param name="MaxValueLength">Longest single value, in bytes.</param>
/// <param name="MaxKeysPerRequest">Most keys (or key/value pairs) in one CHECK, WAIT, MULTI_GET or MULTI_SET.</param>
public readonly record struct CodecLimits(long MaxKeyLength, long MaxValueLength, long MaxKeysPerRequest)
{
    /// <summary>8 KiB keys, 8 MiB values, 131,072 keys per request.</summary>
    public static CodecLimits Default { get; } = new(8 * 1024, 8 * 1024 * 1024, 131_072);
}
