using System.Diagnostics.CodeAnalysis;

namespace TcpStore.Codec;

/// <summary>
/// One parsed request. Every span is a slice of the buffer the reader parsed, so a request is
/// valid only until that buffer is reused; nothing is copied while parsing.
/// </summary>
[SuppressMessage("Design", "CA1051", Justification = "A stack-only parse result; fields let the reader fill it without copies.")]
public ref struct Request
{
    /// <summary>The command.</summary>
    public QueryType Type;

    /// <summary>
    /// The key or queue name (SET, GET, ADD, COMPARE_SET, DELETE_KEY, APPEND, queue commands), and the
    /// key of a CHECK of exactly one key (also in <see cref="Keys"/>).
    /// </summary>
    public ReadOnlySpan<byte> Key;

    /// <summary>SET/APPEND/QUEUE_PUSH value, or the expected value of COMPARE_SET.</summary>
    public ReadOnlySpan<byte> Value;

    /// <summary>The desired value of COMPARE_SET.</summary>
    public ReadOnlySpan<byte> Desired;

    /// <summary>The ADD delta.</summary>
    public long Delta;

    /// <summary>The VALIDATE magic or the PING nonce.</summary>
    public uint Word;

    /// <summary>The keys of CHECK, WAIT and MULTI_GET, or the pairs of MULTI_SET.</summary>
    public KeyList Keys;
}
