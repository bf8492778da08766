using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TcpStore.Server;

/// <summary>
/// An event loop on a dedicated thread: one epoll instance, level-triggered read readiness for
/// its connections, and the whole request path (receive, parse, execute, send) run inline on the
/// loop thread. Compared with .NET's socket engine this saves the hand-off to the thread pool and
/// the readiness probe that a zero-byte receive costs, about half the syscalls of a depth-1 request.
/// Idle connections hold no buffer: every loop receives into one scratch buffer and only a partial
/// frame is copied into a per-connection pooled buffer.
/// </summary>
internal sealed unsafe partial class EpollLoop : IDisposable
{
    private const int EpollCtlAdd = 1;
    private const uint EpollIn = 0x001;
    private const uint EpollRdHup = 0x2000;
    private const int MaxEvents = 256;
    private const int WaitMilliseconds = 200;
    private const int ScratchSize = 64 * 1024;

    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly Thread _thread;
    private readonly int _epoll;
    private long _nextId;
    private volatile bool _stopping;

    public EpollLoop(int index)
    {
        _epoll = EpollCreate1(0x80000 /* EPOLL_CLOEXEC */);
        if (_epoll < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        _thread = new Thread(Run) { IsBackground = true, Name = $"tcpstore-epoll-{index}" };
        _thread.Start();
    }

    /// <summary>Whether this transport can run here (Linux on x86-64, where epoll_event is packed).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>Starts watching <paramref name="connection"/>'s socket.</summary>
    public void Add(Connection connection, Socket socket)
    {
        var id = Interlocked.Increment(ref _nextId);
        connection.LoopId = id;
        connection.Loop = this;
        _connections[id] = connection;
        var ev = new EpollEvent { Events = EpollIn | EpollRdHup, Data = (ulong)id };
        if (EpollCtl(_epoll, EpollCtlAdd, (int)socket.SafeHandle.DangerousGetHandle(), &ev) != 0)
        {
            _connections.TryRemove(id, out _);
            connection.Close(CloseReason.SocketError, "epoll_ctl: errno " + Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Forgets a closed connection (closing its descriptor already removed it from epoll).</summary>
    public void Remove(Connection connection) => _connections.TryRemove(connection.LoopId, out _);

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        Close(_epoll);
    }

    private void Run()
    {
        var scratch = GC.AllocateUninitializedArray<byte>(ScratchSize, pinned: true);
        var events = stackalloc EpollEvent[MaxEvents];
        while (!_stopping)
        {
            var count = EpollWait(_epoll, events, MaxEvents, WaitMilliseconds);
            for (var i = 0; i < count; i++)
            {
                if (_connections.TryGetValue((long)events[i].Data, out var connection))
                {
                    try
                    {
                        connection.OnReadable(scratch);
                    }
                    catch (Exception ex)
                    {
                        // A fault in one connection's request path must not end the loop that serves
                        // every other connection: close just that one and carry on.
                        connection.Close(CloseReason.SocketError, "internal error: " + ex.GetType().Name + ": " + ex.Message);
                    }
                }
            }
        }
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, EpollEvent* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
