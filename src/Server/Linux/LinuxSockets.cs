using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TcpStore.Server.Linux;

/// <summary>
/// The few Linux calls the epoll transport makes on raw descriptors. Going around
/// <see cref="Socket"/> saves, per accepted connection, the socket object and its handle (memory per
/// idle connection) and the option queries of wrapping a descriptor; per request, the handle
/// bookkeeping around each receive and send.
/// </summary>
public static unsafe partial class LinuxSockets
{
    /// <summary>errno: Would block (EAGAIN).</summary>
    public const int EAgain = 11;
    /// <summary>errno: Interrupted by a signal (EINTR).</summary>
    public const int EIntr = 4;
    /// <summary>errno: The process is out of descriptors (EMFILE).</summary>
    public const int EMFile = 24;
    /// <summary>errno: The system is out of descriptors (ENFILE).</summary>
    public const int ENFile = 23;
    /// <summary>errno: Out of socket buffer memory (ENOBUFS).</summary>
    public const int ENoBufs = 105;
    /// <summary>errno: Out of kernel memory (ENOMEM).</summary>
    public const int ENoMem = 12;

    private const int SockNonBlock = 0x800;
    private const int SockCloExec = 0x80000;
    private const int MsgNoSignal = 0x4000;
    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;
    private const int ShutRdWr = 2;
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    /// <summary>A log-friendly name for the errno values the transport reacts to.</summary>
    public static string Describe(int errno) => errno switch
    {
        EMFile => "EMFILE (the process is out of file descriptors; raise ulimit -n)",
        ENFile => "ENFILE (the system is out of file descriptors)",
        ENoBufs => "ENOBUFS (out of socket buffer memory)",
        ENoMem => "ENOMEM (out of kernel memory)",
        _ => "errno " + errno,
    };

    /// <summary>Receives into <paramref name="buffer"/>; returns bytes (0 at end of stream) or -errno.</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Recv(fd, p, (nuint)buffer.Length, 0);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EIntr)
                {
                    return -errno;
                }
            }
        }
    }

    /// <summary>Sends from <paramref name="data"/> without raising SIGPIPE; returns bytes sent or -errno.</summary>
    public static int Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                var n = SendNative(fd, p, (nuint)data.Length, MsgNoSignal);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EIntr)
                {
                    return -errno;
                }
            }
        }
    }

    /// <summary>Accepts one pending connection as a non-blocking descriptor; returns it or -errno.</summary>
    public static int Accept(int listenFd)
    {
        while (true)
        {
            var fd = Accept4(listenFd, null, null, SockNonBlock | SockCloExec);
            if (fd >= 0)
            {
                return fd;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EIntr)
            {
                return -errno;
            }
        }
    }

    /// <summary>Turns Nagle's algorithm off: replies are small and must leave at once.</summary>
    public static void SetNoDelay(int fd)
    {
        var one = 1;
        _ = SetSockOpt(fd, IpProtoTcp, TcpNoDelay, &one, sizeof(int));
    }

    /// <summary>Whether Nagle's algorithm is off on <paramref name="fd"/>.</summary>
    public static bool HasNoDelay(int fd)
    {
        var value = 0;
        var length = (uint)sizeof(int);
        return GetSockOpt(fd, IpProtoTcp, TcpNoDelay, &value, &length) == 0 && value != 0;
    }

    /// <summary>Ends both directions without releasing the descriptor number.</summary>
    public static void Shutdown(int fd) => _ = ShutdownNative(fd, ShutRdWr);

    /// <summary>Releases the descriptor.</summary>
    public static void Close(int fd) => _ = CloseNative(fd);

    /// <summary>The peer's address for log lines, or "?" when it is gone.</summary>
    public static string PeerName(int fd)
    {
        var storage = stackalloc byte[128];
        var length = 128u;
        if (GetPeerName(fd, storage, &length) != 0 || length < 4)
        {
            return "?";
        }

        var family = Unsafe.ReadUnaligned<ushort>(storage);
        var port = (storage[2] << 8) | storage[3];
        if (family == AfInet && length >= 8)
        {
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(storage + 4, 4)), port).ToString();
        }

        if (family == AfInet6 && length >= 24)
        {
            var address = new IPAddress(new ReadOnlySpan<byte>(storage + 8, 16));
            return new IPEndPoint(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, port).ToString();
        }

        return "?";
    }

    /// <summary>A non-blocking, close-on-exec eventfd for waking a loop from other threads.</summary>
    public static int CreateEventFd()
    {
        var fd = EventFd(0, SockNonBlock | SockCloExec);
        if (fd < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        return fd;
    }

    /// <summary>Adds one to an eventfd's counter, making it readable.</summary>
    public static void Signal(int eventFd)
    {
        var one = 1UL;
        _ = Write(eventFd, &one, sizeof(ulong));
    }

    /// <summary>Resets an eventfd's counter.</summary>
    public static void Drain(int eventFd)
    {
        ulong value;
        _ = Read(eventFd, &value, sizeof(ulong));
    }

    // Non-blocking calls that return within microseconds: skipping the GC transition is safe and
    // is a measurable share of a depth-1 request.
    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    [SuppressGCTransition]
    private static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    [SuppressGCTransition]
    private static partial nint SendNative(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static partial int Accept4(int fd, void* address, uint* length, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    private static partial int ShutdownNative(int fd, int how);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    private static partial int GetPeerName(int fd, byte* address, uint* length);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, void* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, void* buffer, nuint length);
}
