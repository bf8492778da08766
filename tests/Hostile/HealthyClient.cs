using System.Diagnostics;
using System.Text;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// A well-behaved client that, until stopped, does SET, GET, ADD and a WAIT released by a second
/// connection's SET, checking every answer against what it wrote. Attack tests run it throughout
/// to show that one bad client does not harm the others.
/// </summary>
public sealed class HealthyClient : IAsyncDisposable
{
    private readonly RawClient _main;
    private readonly RawClient _waker;
    private readonly string _prefix = "/healthy-" + Guid.NewGuid().ToString("N")[..8];
    private readonly CancellationTokenSource _stop = new();
    private Task<Report>? _loop;
    private long _rounds;
    private long _slowestTicks;

    private HealthyClient(RawClient main, RawClient waker)
    {
        _main = main;
        _waker = waker;
    }

    /// <summary>Operations completed, the slowest round of four operations (since the last <see cref="TakeSlowest"/>), and the first wrong answer or error.</summary>
    public sealed record Report(long Operations, TimeSpan SlowestRound, string? Failure);

    /// <summary>Rounds (SET, GET, ADD, WAIT) completed and checked so far.</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    /// <summary>The slowest round since the last call (or the start); starts a fresh measurement.</summary>
    public TimeSpan TakeSlowest() => Stopwatch.GetElapsedTime(0, Interlocked.Exchange(ref _slowestTicks, 0));

    /// <summary>Whether the loop ended (only on a failure, before <see cref="StopAsync"/>).</summary>
    public bool Faulted => _loop!.IsCompleted;

    public static async Task<HealthyClient> StartAsync(int port)
    {
        var client = new HealthyClient(await RawClient.ConnectAsync(port), await RawClient.ConnectAsync(port));
        client._loop = Task.Run(client.LoopAsync);
        return client;
    }

    public async Task<Report> StopAsync()
    {
        await _stop.CancelAsync();
        return await _loop!;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _main.Dispose();
        _waker.Dispose();
        _stop.Dispose();
    }

    private async Task<Report> LoopAsync()
    {
        long operations = 0;
        var timeout = TimeSpan.FromSeconds(10);
        try
        {
            for (var i = 1; !_stop.IsCancellationRequested; i++)
            {
                var started = Stopwatch.GetTimestamp();
                var value = $"value-{i}";
                await _main.SendAsync(RawClient.Set($"{_prefix}/k{i}", value));
                await _main.SendAsync(RawClient.Get($"{_prefix}/k{i}"));
                var read = Encoding.UTF8.GetString(await ReadBlobAsync(_main, timeout));
                Check(read == value, $"GET returned '{read}', expected '{value}'");

                await _main.SendAsync(RawClient.Add($"{_prefix}/counter", 1));
                var sum = BitConverter.ToInt64(await _main.ReceiveExactlyAsync(8, timeout));
                Check(sum == i, $"ADD returned {sum}, expected {i}");

                // A WAIT that another connection releases: the wake-up path across connections.
                await _main.SendAsync(RawClient.Multi(QueryType.Wait, $"{_prefix}/w{i}"));
                await _waker.SendAsync(RawClient.Set($"{_prefix}/w{i}", "go"));
                var stop = await _main.ReadByteAsync(timeout);
                Check(stop == Protocol.StopWaiting, $"WAIT answered {stop}");

                operations += 4;
                Interlocked.Increment(ref _rounds);
                var elapsed = Stopwatch.GetTimestamp() - started;
                if (elapsed > Interlocked.Read(ref _slowestTicks))
                {
                    Interlocked.Exchange(ref _slowestTicks, elapsed);
                }

                await Task.Delay(2);
            }
        }
        catch (Exception ex)
        {
            return new Report(operations, TakeSlowest(), ex.GetType().Name + ": " + ex.Message);
        }

        return new Report(operations, TakeSlowest(), null);
    }

    private static async Task<byte[]> ReadBlobAsync(RawClient client, TimeSpan timeout)
    {
        var length = BitConverter.ToInt64(await client.ReceiveExactlyAsync(8, timeout));
        return await client.ReceiveExactlyAsync(checked((int)length), timeout);
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
