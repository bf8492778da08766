using System.Net.Sockets;
using TcpStore.Server.Linux;

namespace TcpStore.Server;

/// <summary>
/// Epoll event loops on dedicated threads. The first loop also watches the listener: it accepts in
/// its own thread and deals connections out to the loops round-robin.
/// </summary>
internal sealed class EpollTransport : IServerTransport
{
    // Connections accepted per listener event (the loop's other connections are served in between).
    private const int AcceptBatch = 128;

    private readonly EpollLoop[] _loops;
    private IConnectionAdmission? _admission;
    private int _listenFd = -1;
    private int _nextLoop;
    private bool? _noDelayInherited;

    public EpollTransport(int eventLoops)
    {
        _loops = new EpollLoop[eventLoops];
        for (var i = 0; i < _loops.Length; i++)
        {
            _loops[i] = new EpollLoop(i);
        }
    }

    /// <summary>Whether this transport can run here.</summary>
    public static bool IsSupported => EpollLoop.IsSupported;

    public void Start(Socket listener, IConnectionAdmission admission)
    {
        _admission = admission;

        // One pool per loop: a connection keeps its loop in every life, so whatever of its old life
        // is still queued there is checked by that loop's thread, the one that recycles it.
        foreach (var loop in _loops)
        {
            var owner = loop;
            loop.Pool = new ConnectionPool<EpollConnection>(
                () => new EpollConnection(admission.Server, admission.Settings, owner),
                ConnectionPool<EpollConnection>.MaxRetained / _loops.Length,
                admission.PoolConnections);
        }

        listener.Blocking = false;

        // Linux (and gVisor) copy TCP_NODELAY from the listener to each accepted socket, which
        // saves a setsockopt per connection; the first accept checks that it really was copied.
        listener.NoDelay = true;
        _listenFd = (int)listener.SafeHandle.DangerousGetHandle();
        _loops[0].AttachListener(_listenFd, AcceptReady);
    }

    // Joins every loop thread: afterwards nothing here touches the listener or a connection's descriptor.
    public ValueTask DisposeAsync()
    {
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    // On the first loop's thread: accept what is pending (a bounded batch; level-triggered epoll
    // reports the rest on the next pass).
    private void AcceptReady()
    {
        var admission = _admission!;
        for (var i = 0; i < AcceptBatch; i++)
        {
            var fd = LinuxSockets.Accept(_listenFd);
            if (fd < 0)
            {
                var errno = -fd;
                if (errno == LinuxSockets.EAgain)
                {
                    return;
                }

                if (errno is LinuxSockets.EMFile or LinuxSockets.ENFile or LinuxSockets.ENoBufs or LinuxSockets.ENoMem)
                {
                    admission.AcceptFailed(LinuxSockets.Describe(errno));
                    _loops[0].PauseAccepting();
                    return;
                }

                // The pending connection was reset or aborted before it could be accepted: only it is lost.
                continue;
            }

            var verdict = admission.Check();
            if (verdict != Admission.Admit)
            {
                admission.Refuse(verdict, LinuxSockets.PeerName, fd);
                LinuxSockets.Close(fd);
                continue;
            }

            if (_noDelayInherited is null)
            {
                _noDelayInherited = LinuxSockets.HasNoDelay(fd);
            }

            if (_noDelayInherited == false)
            {
                LinuxSockets.SetNoDelay(fd);
            }

            var loop = _loops[_nextLoop++ % _loops.Length];
            var connection = loop.Pool!.Rent();
            connection.Open(fd);
            admission.Admit(connection);
            loop.Add(connection);
        }
    }
}
