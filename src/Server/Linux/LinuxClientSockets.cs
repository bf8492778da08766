using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TcpStore.Server.Linux;

/// <summary>
/// The client-side Linux calls (for the bench's epoll load generators) beyond <see cref="LinuxSockets"/>
/// (which they reuse for recv, send and close) and <see cref="Epoll"/>: the socket, bind, connect and
/// option calls of opening a connection without a <see cref="Socket"/>. x86-64 only, where
/// epoll_event is packed to 12 bytes.
/// </summary>
public static unsafe partial class LinuxClientSockets
{
    /// <summary>errno: a non-blocking connect is under way.</summary>
    public const int EInProgress = 115;

    private const int AfInet = 2;
    private const int SockStream = 1;
    private const int SockNonBlock = 0x800;
    private const int SockCloExec = 0x80000;
    private const int SolSocket = 1;
    private const int SoError = 4;
    private const int SoLinger = 13;
    private const int IpProtoIp = 0;
    private const int IpBindAddressNoPort = 24;

    /// <summary>Whether the epoll engines can run here.</summary>
    public static bool IsSupported => Epoll.IsSupported;

    /// <summary>
    /// Opens a non-blocking IPv4 TCP socket with Nagle off and starts connecting it to
    /// <paramref name="server"/>, optionally from <paramref name="source"/>.
    /// </summary>
    /// <returns>The descriptor (connect finished or in progress: wait for EPOLLOUT, then <see cref="PendingError"/>), or -errno.</returns>
    public static int StartConnect(IPEndPoint server, IPAddress? source)
    {
        ArgumentNullException.ThrowIfNull(server);
        var fd = SocketNative(AfInet, SockStream | SockNonBlock | SockCloExec, 0);
        if (fd < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        LinuxSockets.SetNoDelay(fd);
        var address = stackalloc byte[16];
        if (source is not null)
        {
            // IP_BIND_ADDRESS_NO_PORT: the port is picked per 4-tuple at connect time, not per
            // source address at bind time, so one address serves far more connections.
            var one = 1;
            _ = SetSockOpt(fd, IpProtoIp, IpBindAddressNoPort, &one, sizeof(int));
            WriteAddress(address, source, 0);
            if (Bind(fd, address, 16) != 0)
            {
                return FailAndClose(fd);
            }
        }

        WriteAddress(address, server.Address, server.Port);
        if (Connect(fd, address, 16) != 0 && Marshal.GetLastPInvokeError() != EInProgress)
        {
            return FailAndClose(fd);
        }

        return fd;
    }

    /// <summary>SO_ERROR: 0 once a non-blocking connect has succeeded, else its errno.</summary>
    public static int PendingError(int fd)
    {
        var error = 0;
        var length = (uint)sizeof(int);
        return GetSockOpt(fd, SolSocket, SoError, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    /// <summary>Closes with RST (SO_LINGER {1, 0}) so no TIME_WAIT piles up between runs.</summary>
    public static void CloseWithReset(int fd)
    {
        var linger = stackalloc int[2] { 1, 0 };
        _ = SetSockOpt(fd, SolSocket, SoLinger, linger, 2 * sizeof(int));
        LinuxSockets.Close(fd);
    }

    private static int FailAndClose(int fd)
    {
        var errno = Marshal.GetLastPInvokeError();
        LinuxSockets.Close(fd);
        return -errno;
    }

    // struct sockaddr_in: family (host order), port (network order), address, 8 bytes of zero.
    private static void WriteAddress(byte* sockaddr, IPAddress address, int port)
    {
        new Span<byte>(sockaddr, 16).Clear();
        sockaddr[0] = AfInet;
        sockaddr[2] = (byte)(port >> 8);
        sockaddr[3] = (byte)port;
        if (!address.TryWriteBytes(new Span<byte>(sockaddr + 4, 4), out _))
        {
            throw new ArgumentException("only IPv4 addresses are supported: " + address, nameof(address));
        }
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int SocketNative(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    private static partial int Connect(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);
}
