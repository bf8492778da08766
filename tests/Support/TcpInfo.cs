using System.Buffers.Binary;
using System.Net.Sockets;

namespace TcpStore.Tests.Support;

/// <summary>
/// Reads Linux <c>struct tcp_info</c> counters of a socket, so a test can see how many data
/// segments the peer sent (offsets from linux/tcp.h, stable since kernel 4.6).
/// </summary>
public readonly record struct TcpInfo(ulong BytesReceived, uint DataSegmentsIn)
{
    private const int IpProtoTcp = 6;
    private const int TcpInfoOption = 11;
    private const int BytesReceivedOffset = 128;
    private const int DataSegmentsInOffset = 152;

    public static TcpInfo Read(Socket socket)
    {
        var buffer = new byte[256];
        var length = socket.GetRawSocketOption(IpProtoTcp, TcpInfoOption, buffer);
        if (length < DataSegmentsInOffset + 4)
        {
            throw new PlatformNotSupportedException($"tcp_info is only {length} bytes");
        }

        return new TcpInfo(
            BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(BytesReceivedOffset)),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(DataSegmentsInOffset)));
    }
}
