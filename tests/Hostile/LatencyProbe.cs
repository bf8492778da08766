using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// A healthy neighbour that measures: on a dedicated thread with blocking calls (so the thread pool's
/// queue, which a hostile test may fill, adds nothing), it SETs a key, GETs it back and checks the
/// value, one request at a time, and records the slowest round trip.
/// </summary>
public sealed class LatencyProbe : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _thread;
    private readonly string _prefix = "/probe-" + Guid.NewGuid().ToString("N")[..8];
    private volatile bool _stop;
    private long _count;
    private long _slowestTicks;
    private string? _failure;

    private LatencyProbe(Socket socket)
    {
        _socket = socket;
        _thread = new Thread(Run) { IsBackground = true, Name = "latency-probe" };
    }

    /// <summary>Round trips completed and checked.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>The slowest round trip so far.</summary>
    public TimeSpan Slowest => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _slowestTicks));

    /// <summary>The first wrong answer or error, if any.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    public static async Task<LatencyProbe> StartAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        // A server stalled for good fails the probe instead of hanging the test.
        socket.ReceiveTimeout = 10_000;
        socket.Send(RawClientFrames.Validate());
        var probe = new LatencyProbe(socket);
        probe._thread.Start();
        await HostileServer.EventuallyAsync(() => probe.Count >= 10 || probe.Failure is not null, "the probe did not get going");
        return probe;
    }

    /// <summary>
    /// The slowest round trip of the quiet phases (<see cref="MeasureQuietAsync"/>): the machine's own
    /// scheduling noise at the time, which the bound on an attack phase allows for on top of its target.
    /// </summary>
    public TimeSpan Noise { get; private set; }

    /// <summary>Forgets the slowest round trip so far (call when the phase to measure begins).</summary>
    public void ResetSlowest() => Interlocked.Exchange(ref _slowestTicks, 0);

    /// <summary>
    /// Measures <paramref name="requests"/> round trips with no attack going on and adds their
    /// slowest to <see cref="Noise"/>, then starts a fresh measurement.
    /// </summary>
    public async Task MeasureQuietAsync(long requests)
    {
        ResetSlowest();
        await RunAtLeastAsync(requests);
        Noise = Slowest > Noise ? Slowest : Noise;
        ResetSlowest();
    }

    /// <summary>Ends an attack phase: its slowest round trip and how many round trips it had.</summary>
    public (TimeSpan Slowest, long Requests) EndPhase(long startCount)
    {
        var slowest = Slowest;
        ResetSlowest();
        return (slowest, Count - startCount);
    }

    /// <summary>Waits until <paramref name="more"/> further round trips have completed.</summary>
    public async Task RunAtLeastAsync(long more)
    {
        var target = Count + more;
        await HostileServer.EventuallyAsync(() => Count >= target || Failure is not null, $"the probe made {Count} of {target} round trips", TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// Stops the probe and asserts it saw only right answers, and that the attack phase's slowest
    /// round trip stayed under <paramref name="bound"/> plus the <see cref="Noise"/> of the quiet phases.
    /// </summary>
    public void StopAndAssert((TimeSpan Slowest, long Requests) attack, TimeSpan bound, string during)
    {
        _stop = true;
        _thread.Join();
        Assert.True(Failure is null, $"the healthy neighbour failed {during}: {Failure}");
        Assert.True(attack.Requests > 0, $"the healthy neighbour made no progress {during}");
        Assert.True(
            attack.Slowest < bound + Noise,
            $"the healthy neighbour's slowest request took {attack.Slowest.TotalMilliseconds:0.0} ms {during} (bound {bound.TotalMilliseconds} ms + {Noise.TotalMilliseconds:0.0} ms of noise measured without the attack, {attack.Requests} requests)");
    }

    public void Dispose()
    {
        _stop = true;
        _socket.Dispose();
        _thread.Join();
    }

    private void Run()
    {
        var reply = new byte[64];
        try
        {
            for (var i = 0; !_stop; i++)
            {
                var value = $"v{i}";
                var request = RawClientFrames.Concat(RawClient.Set($"{_prefix}/k{i % 16}", value), RawClient.Get($"{_prefix}/k{i % 16}"));
                var started = Stopwatch.GetTimestamp();
                _socket.Send(request);
                ReceiveExactly(reply.AsSpan(0, 8));
                var length = (int)BinaryPrimitives.ReadInt64LittleEndian(reply);
                if (length != Encoding.ASCII.GetByteCount(value))
                {
                    throw new InvalidOperationException($"GET returned {length} bytes, expected '{value}'");
                }

                ReceiveExactly(reply.AsSpan(0, length));
                var elapsed = Stopwatch.GetTimestamp() - started;
                var read = Encoding.ASCII.GetString(reply, 0, length);
                if (read != value)
                {
                    throw new InvalidOperationException($"GET returned '{read}', expected '{value}'");
                }

                if (elapsed > Interlocked.Read(ref _slowestTicks))
                {
                    Interlocked.Exchange(ref _slowestTicks, elapsed);
                }

                Interlocked.Increment(ref _count);
                Thread.Sleep(1);
            }
        }
        catch (Exception ex) when (!_stop)
        {
            Volatile.Write(ref _failure, ex.GetType().Name + ": " + ex.Message);
        }
        catch (Exception)
        {
            // Disposed while stopping.
        }
    }

    private void ReceiveExactly(Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = _socket.Receive(buffer);
            if (n == 0)
            {
                throw new EndOfStreamException("the server closed the probe's connection");
            }

            buffer = buffer[n..];
        }
    }
}
