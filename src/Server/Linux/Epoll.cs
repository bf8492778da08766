using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TcpStore.Server.Linux;

/// <summary>
/// epoll(7) for the event loops (and the bench's load generator): the constants, the x86-64 event
/// layout and three calls. x86-64 only, where the kernel packs epoll_event to 12 bytes.
/// </summary>
public static unsafe partial class Epoll
{
    /// <summary>Readable.</summary>
    public const uint In = 0x001;

    /// <summary>Writable.</summary>
    public const uint Out = 0x004;

    /// <summary>Error condition.</summary>
    public const uint Err = 0x008;

    /// <summary>Hang-up.</summary>
    public const uint Hup = 0x010;

    /// <summary>The peer shut down its writing side.</summary>
    public const uint RdHup = 0x2000;

    /// <summary>epoll_ctl: add a descriptor.</summary>
    public const int CtlAdd = 1;

    /// <summary>epoll_ctl: remove a descriptor.</summary>
    public const int CtlDel = 2;

    /// <summary>epoll_ctl: change a descriptor's events.</summary>
    public const int CtlMod = 3;

    private const int CloExec = 0x80000;

    /// <summary>Whether these calls can run here (Linux on x86-64).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>A close-on-exec epoll instance.</summary>
    public static int Create()
    {
        var fd = EpollCreate1(CloExec);
        return fd >= 0 ? fd : throw new SocketException(Marshal.GetLastPInvokeError());
    }

    /// <summary>epoll_ctl with <paramref name="data"/> as the event's user data; false on failure.</summary>
    public static bool Control(int epoll, int op, int fd, uint events, ulong data)
    {
        var ev = new Event { Events = events, Data = data };
        return EpollCtl(epoll, op, fd, &ev) == 0;
    }

    /// <summary>Waits for events; returns how many (0 on timeout or signal).</summary>
    public static int Wait(int epoll, Event* events, int maxEvents, int timeoutMilliseconds)
    {
        var n = EpollWait(epoll, events, maxEvents, timeoutMilliseconds);
        if (n >= 0)
        {
            return n;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == LinuxSockets.EIntr ? 0 : throw new SocketException(errno);
    }

    /// <summary>struct epoll_event as the x86-64 kernel lays it out (packed: 4 + 8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct Event
    {
        /// <summary>EPOLL* readiness bits.</summary>
        public uint Events;

        /// <summary>The user data given to epoll_ctl.</summary>
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int op, int fd, Event* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, Event* events, int maxEvents, int timeout);
}
