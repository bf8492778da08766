using System.Diagnostics;
using System.Runtime.InteropServices;
using TcpStore.Server.Linux;

namespace TcpStore.Bench.Load;

/// <summary>
/// The epoll engine of <c>load</c>: one dedicated thread runs a level-triggered epoll loop over
/// every connection's raw, non-blocking descriptor. A reply costs one epoll_wait share, one recv
/// and one send, with no hand-off between threads, so on one core the generator keeps up with the
/// servers instead of being the bottleneck as the async-socket engine is at depth 1.
/// </summary>
/// <remarks>
/// What is sent and how replies are parsed and timed is <see cref="ClosedLoop"/>'s, exactly as in
/// the async engine. Nothing allocates in the steady state.
/// </remarks>
public sealed unsafe class EpollLoadEngine
{
    private const int MaxEvents = 256;
    private const int WaitMilliseconds = 100;

    private readonly ClosedLoop[] _loops;
    private readonly int[] _fds;
    private readonly int[] _sentOffset;
    private readonly bool[] _watchingWritable;
    private readonly bool[] _finished;
    private readonly CancellationToken _timeout;
    private int _epoll = -1;
    private int _active;

    private EpollLoadEngine(IReadOnlyList<LoadConnection> connections, CancellationToken timeout)
    {
        _loops = new ClosedLoop[connections.Count];
        _fds = new int[connections.Count];
        _sentOffset = new int[connections.Count];
        _watchingWritable = new bool[connections.Count];
        _finished = new bool[connections.Count];
        _timeout = timeout;
        for (var i = 0; i < connections.Count; i++)
        {
            // The Socket stays the owner (it closes the descriptor on disposal); the loop only
            // borrows the descriptor, which must not block.
            connections[i].Socket.Blocking = false;
            _fds[i] = (int)connections[i].Socket.Handle;
            _loops[i] = connections[i].Loop;
        }
    }

    /// <summary>Whether this engine can run here (Linux on x86-64).</summary>
    public static bool IsSupported => LinuxClientSockets.IsSupported;

    /// <summary>
    /// Runs the closed loop on every connection until the phase says stop and every reply in
    /// flight has come back, on a new thread (which inherits this thread's CPU affinity).
    /// </summary>
    /// <param name="connections">Connected, validated connections (and populated keys).</param>
    /// <param name="timeout">Gives up, marking each unfinished connection failed, when cancelled.</param>
    public static Task RunAsync(IReadOnlyList<LoadConnection> connections, CancellationToken timeout)
    {
        ArgumentNullException.ThrowIfNull(connections);
        var engine = new EpollLoadEngine(connections, timeout);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                engine.Run();
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "load-epoll",
        };
        thread.Start();
        return done.Task;
    }

    private void Run()
    {
        _epoll = Epoll.Create();
        try
        {
            _active = _loops.Length;
            for (var i = 0; i < _loops.Length; i++)
            {
                if (!Epoll.Control(_epoll, Epoll.CtlAdd, _fds[i], Epoll.In, (ulong)i))
                {
                    Fail(i, "epoll_ctl: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
                    continue;
                }

                _loops[i].Refill();
                Flush(i);
            }

            var events = stackalloc Epoll.Event[MaxEvents];
            while (_active > 0)
            {
                var count = Epoll.Wait(_epoll, events, MaxEvents, WaitMilliseconds);
                for (var e = 0; e < count; e++)
                {
                    Dispatch((int)events[e].Data, events[e].Events);
                }

                if (_timeout.IsCancellationRequested)
                {
                    GiveUp();
                }
            }
        }
        finally
        {
            LinuxSockets.Close(_epoll);
        }
    }

    private void Dispatch(int i, uint ready)
    {
        if (_finished[i])
        {
            return;
        }

        if ((ready & Epoll.Out) != 0 && _watchingWritable[i])
        {
            Flush(i);
        }

        if (!_finished[i] && (ready & (Epoll.In | Epoll.Err | Epoll.Hup)) != 0)
        {
            OnReadable(i);
        }
    }

    // One recv, then every whole reply consumed and answered with one send: the closed loop.
    private void OnReadable(int i)
    {
        var loop = _loops[i];
        var n = LinuxSockets.Receive(_fds[i], loop.ReceiveSpace.Span);
        if (n == -LinuxSockets.EAgain)
        {
            return;
        }

        if (n < 0)
        {
            Fail(i, Marshal.GetPInvokeErrorMessage(-n));
            return;
        }

        if (n == 0)
        {
            Fail(i, "server closed the connection");
            return;
        }

        if (!loop.OnReceived(n))
        {
            Fail(i, null);
            return;
        }

        if (loop.Issuing)
        {
            loop.Refill();
        }

        Flush(i);
        if (!_finished[i] && loop.InFlight == 0 && loop.Send.WrittenCount == 0)
        {
            Finish(i);
        }
    }

    // Sends what Refill queued; a short send (never seen with these request sizes, but possible
    // with large values) keeps the rest and waits for EPOLLOUT.
    private void Flush(int i)
    {
        var send = _loops[i].Send;
        if (send.WrittenCount > _sentOffset[i])
        {
            var n = LinuxSockets.Send(_fds[i], send.WrittenSpan[_sentOffset[i]..]);
            if (n < 0 && n != -LinuxSockets.EAgain)
            {
                Fail(i, Marshal.GetPInvokeErrorMessage(-n));
                return;
            }

            _sentOffset[i] += Math.Max(0, n);
        }

        var pending = send.WrittenCount > _sentOffset[i];
        if (!pending)
        {
            send.Clear();
            _sentOffset[i] = 0;
        }

        if (pending != _watchingWritable[i])
        {
            _watchingWritable[i] = pending;
            var events = Epoll.In | (pending ? Epoll.Out : 0);
            _ = Epoll.Control(_epoll, Epoll.CtlMod, _fds[i], events, (ulong)i);
        }
    }

    private void GiveUp()
    {
        for (var i = 0; i < _loops.Length; i++)
        {
            if (!_finished[i])
            {
                Fail(i, $"timed out with {_loops[i].InFlight} replies outstanding");
            }
        }
    }

    private void Fail(int i, string? failure)
    {
        _loops[i].Failure ??= failure;
        Finish(i);
    }

    // Unwatched once done: a level-triggered descriptor with anything unexpected left to read
    // would otherwise wake the loop over and over while the others drain.
    private void Finish(int i)
    {
        _ = Epoll.Control(_epoll, Epoll.CtlDel, _fds[i], 0, 0);
        _finished[i] = true;
        _active--;
    }
}
