using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using TcpStore.Codec;
using TcpStore.Server.Linux;

namespace TcpStore.Bench.Load;

/// <summary>
/// The epoll engine of <c>barrier</c>: every rank is a small state machine on one thread with one
/// level-triggered epoll loop. A rank costs socket, connect, one send and one recv per step, and
/// no task, timer or thread hand-off, so the generator is not what the connect and release times
/// measure.
/// </summary>
public sealed unsafe class EpollBarrier
{
    private const int MaxEvents = 1024;
    private const int WaitMilliseconds = 100;

    private readonly IPEndPoint _server;
    private readonly int _ranks;
    private readonly int _maxConnecting;
    private readonly CancellationToken _timeout;
    private readonly BarrierFrames _frames = BarrierFrames.Instance;
    private readonly int[] _fds;
    private readonly RankState[] _states;
    private readonly byte[] _replies;
    private readonly byte[] _received;
    private readonly Stopwatch _clock = new();
    private int _epoll = -1;
    private int _connecting;
    private int _finished;
    private int _failures;
    private long _lastConnectedTicks;
    private long _lastSetTicks;
    private long _lastReleasedTicks;

    private EpollBarrier(IPEndPoint server, int ranks, int maxConnecting, CancellationToken timeout)
    {
        _server = server;
        _ranks = ranks;
        _maxConnecting = Math.Max(1, maxConnecting);
        _timeout = timeout;
        _fds = new int[ranks];
        _states = new RankState[ranks];
        _replies = new byte[ranks * 8];
        _received = new byte[ranks];
    }

    private enum RankState : byte
    {
        NotStarted,
        Connecting,
        AwaitingCount,
        AwaitingRelease,
        Released,
        Failed,
    }

    /// <summary>
    /// Runs one rendezvous of <paramref name="ranks"/> ranks against <paramref name="server"/> on a
    /// new thread (which inherits this thread's CPU affinity); ranks still unreleased when
    /// <paramref name="timeout"/> fires count as failed.
    /// </summary>
    public static Task<RendezvousTimes> RunAsync(IPEndPoint server, int ranks, int maxConnecting, CancellationToken timeout)
    {
        ArgumentNullException.ThrowIfNull(server);
        var barrier = new EpollBarrier(server, ranks, maxConnecting, timeout);
        var done = new TaskCompletionSource<RendezvousTimes>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(barrier.Run());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "barrier-epoll",
        };
        thread.Start();
        return done.Task;
    }

    private RendezvousTimes Run()
    {
        _epoll = Epoll.Create();
        var next = 0;
        TimeSpan total;
        try
        {
            var events = stackalloc Epoll.Event[MaxEvents];
            _clock.Start();
            while (_finished < _ranks)
            {
                // The window: a rank counts from starting its connect to its ADD reply, which
                // keeps the server's accept queue short, as the async engine's semaphore does.
                while (next < _ranks && _connecting < _maxConnecting)
                {
                    Start(next++);
                }

                if (_finished == _ranks)
                {
                    break;
                }

                var count = Epoll.Wait(_epoll, events, MaxEvents, WaitMilliseconds);
                for (var e = 0; e < count; e++)
                {
                    Dispatch((int)events[e].Data, events[e].Events);
                }

                if (_timeout.IsCancellationRequested)
                {
                    GiveUp(next);
                    break;
                }
            }

            total = _clock.Elapsed;
        }
        finally
        {
            for (var r = 0; r < next; r++)
            {
                if (_states[r] != RankState.Failed)
                {
                    LinuxClientSockets.CloseWithReset(_fds[r]);
                }
            }

            LinuxSockets.Close(_epoll);
        }

        return new RendezvousTimes(
            Stopwatch.GetElapsedTime(0, _lastConnectedTicks),
            Stopwatch.GetElapsedTime(0, Math.Max(0, _lastReleasedTicks - _lastSetTicks)),
            total,
            _failures);
    }

    private void Start(int rank)
    {
        _connecting++;
        var fd = LinuxClientSockets.StartConnect(_server, LoadRunner.SourceAddress(rank, _ranks));
        if (fd < 0)
        {
            _states[rank] = RankState.Failed;
            _connecting--;
            _failures++;
            _finished++;
            return;
        }

        _fds[rank] = fd;
        _states[rank] = RankState.Connecting;
        if (!Epoll.Control(_epoll, Epoll.CtlAdd, fd, Epoll.Out, (ulong)rank))
        {
            Fail(rank);
        }
    }

    private void Dispatch(int rank, uint ready)
    {
        switch (_states[rank])
        {
            case RankState.Connecting:
                OnConnected(rank);
                break;
            case RankState.AwaitingCount:
                OnCount(rank);
                break;
            case RankState.AwaitingRelease:
                OnRelease(rank);
                break;
            case RankState.Released:
                // Nothing more is expected; stop a level-triggered descriptor from waking the loop.
                _ = Epoll.Control(_epoll, Epoll.CtlDel, _fds[rank], 0, 0);
                break;
            default:
                break;
        }
    }

    // EPOLLOUT (or an error) on a connecting socket: SO_ERROR says which.
    private void OnConnected(int rank)
    {
        var fd = _fds[rank];
        if (LinuxClientSockets.PendingError(fd) != 0)
        {
            Fail(rank);
            return;
        }

        _lastConnectedTicks = Math.Max(_lastConnectedTicks, _clock.ElapsedTicks);
        if (!SendAll(fd, _frames.ValidateAndAdd)
            || !Epoll.Control(_epoll, Epoll.CtlMod, fd, Epoll.In, (ulong)rank))
        {
            Fail(rank);
            return;
        }

        _states[rank] = RankState.AwaitingCount;
    }

    // The ADD reply, possibly in pieces: the 8-byte count after this rank's increment.
    private void OnCount(int rank)
    {
        var reply = _replies.AsSpan(rank * 8, 8);
        var n = LinuxSockets.Receive(_fds[rank], reply[_received[rank]..]);
        if (n == -LinuxSockets.EAgain)
        {
            return;
        }

        if (n <= 0)
        {
            Fail(rank);
            return;
        }

        _received[rank] += (byte)n;
        if (_received[rank] < 8)
        {
            return;
        }

        _connecting--;
        var last = BinaryPrimitives.ReadInt64LittleEndian(reply) == _ranks;
        if (last)
        {
            _lastSetTicks = Math.Max(_lastSetTicks, _clock.ElapsedTicks);
        }

        _states[rank] = RankState.AwaitingRelease;
        if (!SendAll(_fds[rank], last ? _frames.SetAndWait : _frames.Wait))
        {
            Fail(rank);
        }
    }

    // One STOP_WAITING byte once the done key is set.
    private void OnRelease(int rank)
    {
        byte value = 0xFF;
        var n = LinuxSockets.Receive(_fds[rank], new Span<byte>(&value, 1));
        if (n == -LinuxSockets.EAgain)
        {
            return;
        }

        if (n <= 0 || value != Protocol.StopWaiting)
        {
            Fail(rank);
            return;
        }

        _lastReleasedTicks = Math.Max(_lastReleasedTicks, _clock.ElapsedTicks);
        _states[rank] = RankState.Released;
        _finished++;
    }

    // Every rank not yet released has failed, including those that never started.
    private void GiveUp(int started)
    {
        for (var r = 0; r < started; r++)
        {
            if (_states[r] is not RankState.Released and not RankState.Failed)
            {
                Fail(r);
            }
        }

        _failures += _ranks - started;
    }

    // The frames are a few dozen bytes on a fresh socket: anything short of all of them is a failure.
    private static bool SendAll(int fd, byte[] frame) => LinuxSockets.Send(fd, frame) == frame.Length;

    private void Fail(int rank)
    {
        if (_states[rank] is RankState.Connecting or RankState.AwaitingCount)
        {
            _connecting--;
        }

        // Closing also takes the descriptor out of the epoll set.
        LinuxClientSockets.CloseWithReset(_fds[rank]);
        _states[rank] = RankState.Failed;
        _failures++;
        _finished++;
    }
}
