using System.Buffers.Binary;

namespace TcpStore.Core.Inspection;

/// <summary>
/// Reads the world size out of the value a gloo rank writes under its rank key, without trusting it.
/// </summary>
/// <remarks>
/// gloo's TCP transport (gloo/transport/tcp/context.cc, <c>Rank::bytes</c>, as built into PyTorch
/// 2.10) writes: a native size_t hostname length, the hostname, a size_t address length, the
/// device address, then one 8-byte pair identifier for every rank of the group, itself included.
/// So the world size is the length of that tail divided by 8. Every length is checked against the
/// value's size; anything that does not fit exactly is "not a gloo value", never a guess.
/// </remarks>
public static class GlooRankValue
{
    // Hostnames are at most 255 bytes (HOST_NAME_MAX 64 on Linux); addresses are a sockaddr_storage
    // (128 bytes) plus a sequence number in gloo's encoding. Generous bounds, still far from a real blob.
    private const ulong MaxHostname = 1024;
    private const ulong MaxAddress = 1024;
    private const int MaxRanks = 1 << 20;

    /// <summary>The group size the value declares, or null when it is not a gloo rank value.</summary>
    public static int? WorldSize(ReadOnlySpan<byte> value)
    {
        if (value.Length < 16)
        {
            return null;
        }

        var hostLength = BinaryPrimitives.ReadUInt64LittleEndian(value);
        if (hostLength > MaxHostname || (ulong)value.Length < 16 + hostLength)
        {
            return null;
        }

        var rest = value[(8 + (int)hostLength)..];
        var addressLength = BinaryPrimitives.ReadUInt64LittleEndian(rest);
        if (addressLength == 0 || addressLength > MaxAddress || (ulong)rest.Length < 8 + addressLength)
        {
            return null;
        }

        var tail = rest.Length - 8 - (int)addressLength;
        if (tail <= 0 || tail % 8 != 0 || tail / 8 > MaxRanks)
        {
            return null;
        }

        return tail / 8;
    }
}
