using System.Diagnostics;
using System.Net;

namespace TcpStore.Bench.Load;

/// <summary>What one timed run measured.</summary>
public sealed record LoadResult(double OpsPerSecond, long P50Ns, long P99Ns, long P999Ns, int FailedConnections, string? FirstFailure)
{
    /// <summary>Replies completed in the measured phase.</summary>
    public long Completed { get; init; }

    /// <summary>Error replies (RESP <c>-ERR</c>) over every connection; they are not counted as completed.</summary>
    public long ErrorReplies { get; init; }

    /// <summary>The first error reply's text, if any.</summary>
    public string? FirstError { get; init; }

    /// <summary>GETs answered "no such key" (RESP <c>$-1</c>), which populating should have made impossible.</summary>
    public long Misses { get; init; }

    /// <summary>The server's cost per request in the measured phase, when the caller sampled it.</summary>
    public ServerCost? Cost { get; init; }
}

/// <summary>Called right before the measured phase starts and right after it ends (for server-side counters).</summary>
public interface IMeasureHook
{
    /// <summary>The measured phase is about to start.</summary>
    Task StartAsync();

    /// <summary>The measured phase just ended.</summary>
    Task StopAsync();
}

/// <summary>Runs one workload against one server: connect, populate, warm up, measure, drain, close.</summary>
public static class LoadRunner
{
    /// <summary>Measures <paramref name="workload"/> against <paramref name="server"/>, driving the timed loop with <paramref name="engine"/>.</summary>
    public static async Task<LoadResult> RunAsync(IPEndPoint server, Workload workload, RequestCatalog catalog, TimeSpan warmup, TimeSpan duration, LoadEngine engine, CancellationToken cancellationToken, IMeasureHook? hook = null)
    {
        ArgumentNullException.ThrowIfNull(workload);
        var phase = new RunPhase();
        var connections = new List<LoadConnection>(workload.Connections);
        try
        {
            if (engine == LoadEngine.Epoll)
            {
                // Blocking connects, one after the other: loopback connects complete in the
                // kernel's backlog, and the sockets must never run an async operation.
                for (var i = 0; i < workload.Connections; i++)
                {
                    connections.Add(LoadConnection.Connect(server, SourceAddress(i, workload.Connections), workload, catalog, phase, seed: i * 7919));
                }
            }
            else
            {
                await ConnectAllAsync(server, workload, catalog, phase, connections, cancellationToken).ConfigureAwait(false);
            }

            if (workload.Op is LoadOp.Get or LoadOp.Mixed)
            {
                connections[0].Populate();
            }

            using var runTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            runTimeout.CancelAfter(warmup + duration + TimeSpan.FromSeconds(30));
            var running = engine == LoadEngine.Epoll
                ? [EpollLoadEngine.RunAsync(connections, runTimeout.Token)]
                : connections.Select(c => Task.Run(() => c.RunAsync(runTimeout.Token), CancellationToken.None)).ToArray();
            await Task.Delay(warmup, cancellationToken).ConfigureAwait(false);
            if (hook is not null)
            {
                await hook.StartAsync().ConfigureAwait(false);
            }

            phase.Value = 1;
            var started = Stopwatch.GetTimestamp();
            await Task.Delay(duration, cancellationToken).ConfigureAwait(false);
            phase.Value = 2;
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var stopping = hook is null ? Task.CompletedTask : hook.StopAsync();
            await Task.WhenAll(running).ConfigureAwait(false);

            var latencies = new LatencyHistogram();
            long completed = 0;
            var failed = 0;
            string? firstFailure = null;
            long errorReplies = 0, misses = 0;
            string? firstError = null;
            foreach (var connection in connections)
            {
                latencies.Add(connection.Loop.Latencies);
                completed += connection.Loop.Completed;
                errorReplies += connection.Loop.ErrorReplies;
                misses += connection.Loop.Misses;
                firstError ??= connection.Loop.FirstError;
                if (connection.Loop.Failure is not null)
                {
                    failed++;
                    firstFailure ??= connection.Loop.Failure;
                }
            }

            await stopping.ConfigureAwait(false);
            return new LoadResult(completed / elapsed, latencies.Percentile(0.50), latencies.Percentile(0.99), latencies.Percentile(0.999), failed, firstFailure) { Completed = completed, ErrorReplies = errorReplies, FirstError = firstError, Misses = misses };
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    private static async Task ConnectAllAsync(IPEndPoint server, Workload workload, RequestCatalog catalog, RunPhase phase, List<LoadConnection> connections, CancellationToken cancellationToken)
    {
        using var connectGate = new SemaphoreSlim(256);
        var connecting = Enumerable.Range(0, workload.Connections).Select(async i =>
        {
            await connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await LoadConnection.ConnectAsync(server, SourceAddress(i, workload.Connections), workload, catalog, phase, seed: i * 7919, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                connectGate.Release();
            }
        }).ToList();
        foreach (var task in connecting)
        {
            connections.Add(await task.ConfigureAwait(false));
        }
    }

    /// <summary>
    /// Past ~4,000 connections one source address runs short of ephemeral ports towards one server
    /// port; spread them over 127.0.0.1..k instead.
    /// </summary>
    public static IPAddress? SourceAddress(int index, int total)
    {
        if (total <= 4000)
        {
            return null;
        }

        var addresses = (total + 3999) / 4000;
        return new IPAddress([127, 0, 0, (byte)(1 + (index % addresses))]);
    }
}
