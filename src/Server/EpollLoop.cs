using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using TcpStore.Server.Linux;

namespace TcpStore.Server;

/// <summary>
/// An event loop on a dedicated thread: one epoll instance, level-triggered readiness for its
/// connections (and, on the first loop, the listening socket), with the whole request path run
/// inline on the loop thread. Compared with .NET's socket engine this saves the hand-off to the
/// thread pool and the readiness probe of a zero-byte receive: about half the syscalls of a
/// depth-1 request.
/// </summary>
/// <remarks>
/// Wake-ups (a SET releasing thousands of WAITs) are flushed by the loop that owns each woken
/// connection, after the current batch of events: directly when the waker runs on that loop,
/// through a queue and an eventfd when it runs elsewhere. A barrier's release therefore costs one
/// send per rank and no thread hand-off, as in an event-loop server written in C.
/// <para>
/// Connections may be pooled (<see cref="ConnectionPool{T}"/>): a connection closed in a pass goes
/// back to its loop's pool at the end of that pass, once no code of this loop runs for it. Everything
/// that may still name it afterwards (its epoll key, a run-queue turn, a queued flush or registration)
/// carries its id or <see cref="Connection.Generation"/> and is dropped when that no longer matches.
/// </para>
/// </remarks>
internal sealed unsafe class EpollLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const int WaitMilliseconds = 200;
    private const int AcceptPauseMilliseconds = 10;
    private const int ScratchSize = 64 * 1024;

    /// <summary>Most time per pass spent on busy connections' further turns (at least one turn runs).</summary>
    private const double BusyMilliseconds = 1.0;
    private const ulong SignalKey = 0;
    private const ulong ListenerKey = 1;

    private readonly ConcurrentDictionary<long, EpollConnection> _connections = new();

    // Work other threads hand to this loop: flushes of connections woken elsewhere, connections
    // closed elsewhere (their descriptor is closed here), and connections accepted on the first
    // loop. Channels fit each of them: many writers, this loop the single reader, unbounded (a wave
    // of wake-ups or accepts is never refused or blocked), and TryRead after the eventfd wake-up
    // allocates nothing. The eventfd stays the wake-up signal: the loop sleeps in epoll_wait, not
    // on the channel.
    private readonly Channel<Scheduled> _remoteFlushes = CreateChannel<Scheduled>();
    private readonly Channel<Closing> _remoteCloses = CreateChannel<Closing>();
    private readonly Channel<Scheduled> _accepted = CreateChannel<Scheduled>();
    private readonly List<Scheduled> _flushes = [];
    private readonly Queue<Scheduled> _busy = new();

    // Connections closed in this pass, given back to the pool at its end.
    private readonly List<EpollConnection> _released = [];
    private readonly Thread _thread;
    private readonly int _epoll;
    private readonly int _eventFd;
    private long _nextId = 16;
    private int _threadId;
    private int _signaled;
    private int _listenFd = -1;
    private Action? _acceptReady;
    private long _acceptResumeAt;
    private volatile bool _stopping;

    // Guards the life of the loop's own descriptors (the wake-up eventfd, the epoll instance) against
    // other threads. The process reuses a closed descriptor's number at once (an embedding host's next
    // socket or file, another server's), so once Dispose has closed them nothing may write to the
    // eventfd's number (a late wake-up did: its 8-byte counter landed in another server's client
    // socket) or hand the loop a descriptor to close that it will never see. Signal and Release from
    // other threads therefore check _disposed and act under this lock, and Dispose closes under it.
    // A leaf lock: nothing is taken inside it; Signal takes it only when it writes the eventfd.
    private readonly Lock _lifetime = new();
    private bool _disposed;

    public EpollLoop(int index)
    {
        _epoll = Epoll.Create();
        _eventFd = LinuxSockets.CreateEventFd();
        Control(Epoll.CtlAdd, _eventFd, Epoll.In, SignalKey);
        _thread = new Thread(Run) { IsBackground = true, Name = $"tcpstore-epoll-{index}" };
        _thread.Start();
    }

    /// <summary>Whether this transport can run here (Linux on x86-64, where epoll_event is packed).</summary>
    public static bool IsSupported => Epoll.IsSupported;

    /// <summary>Where this loop's closed connections go back (set by the transport before it accepts).</summary>
    public ConnectionPool<EpollConnection>? Pool { get; set; }

    /// <summary>
    /// Watches a non-blocking listening socket; <paramref name="acceptReady"/> runs on this loop's
    /// thread whenever connections are pending.
    /// </summary>
    public void AttachListener(int listenFd, Action acceptReady)
    {
        _acceptReady = acceptReady;
        _listenFd = listenFd;
        Control(Epoll.CtlAdd, listenFd, Epoll.In, ListenerKey);
    }

    /// <summary>
    /// Stops watching the listener for a short while (accept ran out of descriptors or memory): a
    /// level-triggered listener would otherwise report the same pending connection in a busy loop.
    /// Loop thread only.
    /// </summary>
    public void PauseAccepting()
    {
        if (_acceptResumeAt == 0)
        {
            _ = Control(Epoll.CtlDel, _listenFd, 0, 0);
        }

        _acceptResumeAt = Environment.TickCount64 + AcceptPauseMilliseconds;
    }

    /// <summary>
    /// Starts watching <paramref name="connection"/>'s socket: at once on this loop's thread, else
    /// handed to the loop (any thread).
    /// </summary>
    public void Add(EpollConnection connection)
    {
        if (Environment.CurrentManagedThreadId == _threadId)
        {
            Register(connection);
            return;
        }

        _accepted.Writer.TryWrite(new Scheduled(connection, connection.Generation));
        Signal();
    }

    // Loop thread.
    private void Register(EpollConnection connection)
    {
        if (connection.Closed)
        {
            // Closed (for example by a stopping server) before its loop got it: the close already
            // handed its descriptor to this loop, which closes it.
            return;
        }

        var id = ++_nextId;
        connection.Id = id;
        _connections[id] = connection;
        if (!Control(Epoll.CtlAdd, connection.Fd, Epoll.In | Epoll.RdHup, (ulong)id))
        {
            connection.Close(CloseReason.SocketError, "epoll_ctl: errno " + Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// Sets the readiness watched for a connection to what it wants now (<see cref="EpollConnection.Interest"/>):
    /// write readiness while a send waits, no read readiness while its reading is paused (loop thread).
    /// </summary>
    public void UpdateInterest(EpollConnection connection)
    {
        _ = Control(Epoll.CtlMod, connection.Fd, connection.Interest, (ulong)connection.Id);
    }

    /// <summary>Gives a connection a turn from the run queue (loop thread).</summary>
    public void Enqueue(EpollConnection connection)
    {
        if (!connection.Queued)
        {
            connection.Queued = true;
            _busy.Enqueue(new Scheduled(connection, connection.Generation));
        }
    }

    /// <summary>
    /// Queues a flush of a woken connection. Called under the store lock, from any thread: it only
    /// records the connection (and signals the loop when called from another thread).
    /// </summary>
    public void ScheduleFlush(EpollConnection connection)
    {
        var work = new Scheduled(connection, connection.Generation);
        if (Environment.CurrentManagedThreadId == _threadId)
        {
            _flushes.Add(work);
            return;
        }

        _remoteFlushes.Writer.TryWrite(work);
        Signal();
    }

    /// <summary>
    /// Forgets a closed connection and releases its descriptor. Only the loop thread (or anyone once
    /// the loop has stopped) closes descriptors, so an event in flight can never reach a descriptor
    /// number that was closed and reused; other threads shut the socket down and leave the close to it.
    /// </summary>
    /// <remarks>
    /// The connection goes back to the pool at the end of the loop's pass, never while code of this
    /// loop may still run for it; its epoll key is forgotten on the loop thread, which alone adds keys,
    /// so a connection closed before its registration leaves no key behind.
    /// </remarks>
    public void Release(EpollConnection connection)
    {
        if (Environment.CurrentManagedThreadId == _threadId)
        {
            // The loop thread: running, since Dispose waits for it to end before closing anything.
            ReleaseOnLoop(connection, connection.Fd);
            return;
        }

        lock (_lifetime)
        {
            if (!_disposed)
            {
                LinuxSockets.Shutdown(connection.Fd);
                _remoteCloses.Writer.TryWrite(new Closing(connection, connection.Fd));
                SignalLocked();
                return;
            }
        }

        // The loop is gone: nobody else can use the descriptor any more.
        _connections.TryRemove(connection.Id, out _);
        LinuxSockets.Close(connection.Fd);
    }

    public void Dispose()
    {
        _stopping = true;
        Signal();
        _thread.Join();
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            while (_remoteCloses.Reader.TryRead(out var closing))
            {
                LinuxSockets.Close(closing.Fd);
            }

            LinuxSockets.Close(_eventFd);
            LinuxSockets.Close(_epoll);
        }
    }

    private void Signal()
    {
        if (Volatile.Read(ref _signaled) != 0)
        {
            // A wake-up is already pending (the loop clears the flag once it has drained the eventfd).
            return;
        }

        lock (_lifetime)
        {
            SignalLocked();
        }
    }

    // Caller holds _lifetime.
    private void SignalLocked()
    {
        if (!_disposed && Interlocked.Exchange(ref _signaled, 1) == 0)
        {
            LinuxSockets.Signal(_eventFd);
        }
    }

    private static Channel<T> CreateChannel<T>() =>
        Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private bool Control(int op, int fd, uint events, ulong key) => Epoll.Control(_epoll, op, fd, events, key);

    // Loop thread: forgets the connection's key, closes its descriptor and keeps it for the pool.
    private void ReleaseOnLoop(EpollConnection connection, int fd)
    {
        _connections.TryRemove(connection.Id, out _);
        LinuxSockets.Close(fd);
        if (Pool is not null)
        {
            _released.Add(connection);
        }
    }

    // End of a pass: no code of this loop runs for the connections closed in it any more.
    private void ReturnReleased()
    {
        if (_released.Count == 0)
        {
            return;
        }

        foreach (var connection in _released)
        {
            Pool!.Return(connection);
        }

        _released.Clear();
    }

    private void Run()
    {
        _threadId = Environment.CurrentManagedThreadId;
        var scratch = GC.AllocateUninitializedArray<byte>(ScratchSize, pinned: true);
        var events = stackalloc Epoll.Event[MaxEvents];
        while (!_stopping)
        {
            var timeout = _busy.Count > 0 ? 0 : _acceptResumeAt != 0 ? AcceptPauseMilliseconds : WaitMilliseconds;
            var count = Epoll.Wait(_epoll, events, MaxEvents, timeout);
            var passStarted = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                Dispatch(events[i].Data, events[i].Events, scratch);
            }

            RunBusy(scratch, passStarted);
            RunRemoteWork();
            RunScheduledFlushes();
            ReturnReleased();
            if (_acceptResumeAt != 0 && Environment.TickCount64 >= _acceptResumeAt)
            {
                _acceptResumeAt = 0;
                Control(Epoll.CtlAdd, _listenFd, Epoll.In, ListenerKey);
            }
        }
    }

    private void Dispatch(ulong key, uint ready, byte[] scratch)
    {
        if (key == SignalKey)
        {
            LinuxSockets.Drain(_eventFd);
            Volatile.Write(ref _signaled, 0);
            return;
        }

        if (key == ListenerKey)
        {
            if (_acceptResumeAt == 0)
            {
                _acceptReady?.Invoke();
            }

            return;
        }

        if (!_connections.TryGetValue((long)key, out var connection))
        {
            return;
        }

        try
        {
            if ((ready & (Epoll.Out | Epoll.Err | Epoll.Hup)) != 0)
            {
                connection.OnWritable();
            }

            // A heavy or busy connection is read from the run queue in its turn, not whenever epoll
            // reports it.
            if ((ready & (Epoll.In | Epoll.RdHup | Epoll.Err | Epoll.Hup)) != 0 && !connection.Queued)
            {
                if (!connection.Heavy)
                {
                    connection.OnReadable(scratch);
                }

                if (connection.Heavy || connection.HasMore)
                {
                    Enqueue(connection);
                }
            }
        }
        catch (Exception ex)
        {
            // A fault in one connection's request path must not end the loop that serves every
            // other connection: close just that one and carry on.
            connection.Close(CloseReason.SocketError, "internal error: " + ex.GetType().Name + ": " + ex.Message);
        }
    }

    // Further turns for connections that still had input after their turn, round-robin, for at most
    // BusyMilliseconds of this pass (at least one turn, so they progress however busy the loop is).
    private void RunBusy(byte[] scratch, long passStarted)
    {
        for (var turns = _busy.Count; turns > 0 && _busy.TryDequeue(out var turn); turns--)
        {
            var connection = turn.Connection;
            if (connection.Generation != turn.Generation)
            {
                // The connection closed and its object serves another one now.
                continue;
            }

            connection.Queued = false;
            try
            {
                connection.OnReadable(scratch);
            }
            catch (Exception ex)
            {
                connection.Close(CloseReason.SocketError, "internal error: " + ex.GetType().Name + ": " + ex.Message);
            }

            if (connection.HasMore)
            {
                Enqueue(connection);
            }

            if (Stopwatch.GetElapsedTime(passStarted).TotalMilliseconds >= BusyMilliseconds)
            {
                return;
            }
        }
    }

    private void RunRemoteWork()
    {
        while (_accepted.Reader.TryRead(out var accepted))
        {
            if (accepted.Connection.Generation == accepted.Generation)
            {
                Register(accepted.Connection);
            }
        }

        while (_remoteCloses.Reader.TryRead(out var closing))
        {
            ReleaseOnLoop(closing.Connection, closing.Fd);
        }

        while (_remoteFlushes.Reader.TryRead(out var flush))
        {
            _flushes.Add(flush);
        }
    }

    // Wake-ups scheduled while this batch ran go out after it, each connection once.
    private void RunScheduledFlushes()
    {
        for (var i = 0; i < _flushes.Count; i++)
        {
            var (connection, generation) = _flushes[i];
            try
            {
                connection.FlushFromLoop(generation);
            }
            catch (Exception ex)
            {
                connection.Close(CloseReason.SocketError, "internal error: " + ex.GetType().Name + ": " + ex.Message);
            }
        }

        _flushes.Clear();
    }

    /// <summary>Work for a connection in one life (see <see cref="Connection.Generation"/>).</summary>
    private readonly record struct Scheduled(EpollConnection Connection, long Generation);

    /// <summary>A connection closed on another thread, and the descriptor this loop must close for it.</summary>
    private readonly record struct Closing(EpollConnection Connection, int Fd);
}
