using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// The reply writer a session hands to the store: it refuses to grow the replies past the session's
/// output budget. One small request can ask for a huge reply (a MULTI_GET naming the same 8 MiB
/// value 131,072 times asks for 1 TiB), so the bound must hold while the reply is being written,
/// not only between reads.
/// </summary>
internal sealed class OutputBudget(PooledBufferWriter inner) : IBufferWriter<byte>
{
    /// <summary>Most bytes the replies may reach in the current <see cref="Session.Process"/> call.</summary>
    public long Limit { get; set; } = long.MaxValue;

    public void Advance(int count) => inner.Advance(count);

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return inner.GetMemory(sizeHint);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return inner.GetSpan(sizeHint);
    }

    // The session's own fixed-size replies call these on the sealed type, so they are direct calls
    // that inline, not the interface dispatch that the FrameWriter extensions go through.

    /// <summary>Writes a one-byte reply.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteByte(byte value)
    {
        // A span and an Advance cost ~50 instructions for one byte (callgrind); the budget test and an append, ~10.
        Reserve(1);
        inner.Append(value);
    }

    /// <summary>Writes a 32-bit little-endian reply (PING).</summary>
    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(GetSpan(sizeof(uint)), value);
        inner.Advance(sizeof(uint));
    }

    /// <summary>Writes a 64-bit little-endian reply (ADD, counts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt64(long value)
    {
        Reserve(sizeof(long));
        inner.Append(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Reserve(int sizeHint)
    {
        if (inner.WrittenCount + (long)Math.Max(sizeHint, 1) > Limit)
        {
            ThrowExceeded();
        }
    }

    // Out of line so that Reserve, and with it GetSpan, stays small enough to inline.
    [DoesNotReturn]
    private static void ThrowExceeded() => throw new OutputBudgetExceededException();
}

/// <summary>A reply would exceed the session's output budget; the connection is closed with <see cref="SessionFault.BufferLimit"/>.</summary>
internal sealed class OutputBudgetExceededException : Exception
{
    public OutputBudgetExceededException()
        : base("reply exceeds the connection's output budget")
    {
    }

    public OutputBudgetExceededException(string message)
        : base(message)
    {
    }

    public OutputBudgetExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
