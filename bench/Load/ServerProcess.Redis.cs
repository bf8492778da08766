using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TcpStore.Bench.Load;

/// <summary>Starting Redis for <c>load</c>'s redis column.</summary>
public sealed partial class ServerProcess
{
    /// <summary>What <c>load</c> says when Redis is asked for but not installed.</summary>
    public const string RedisMissing = "redis-server not found: apt-get install redis-server";

    /// <summary>
    /// The <c>redis-server</c> to run: <c>TCPSTORE_REDIS_SERVER</c> if set, else the first on PATH
    /// (then /usr/bin and /usr/sbin); null when there is none.
    /// </summary>
    public static string? FindRedisServer()
    {
        var fromEnv = Environment.GetEnvironmentVariable("TCPSTORE_REDIS_SERVER");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv) ? fromEnv : null;
        }

        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries);
        return dirs.Concat(["/usr/bin", "/usr/sbin"]).Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Starts redis-server on a free loopback port, pinned to <paramref name="cpu"/>, and waits for
    /// its "Ready to accept connections" line. No config file, so Redis's built-in defaults
    /// (one thread answers every client, io-threads 1, latency tracking on, no maxmemory), except:
    /// <c>--save ''</c> and <c>--appendonly no</c> (no RDB snapshot forks and no AOF writes in the
    /// middle of a run: ours keeps nothing on disk either), <c>--bind 127.0.0.1</c>, and the
    /// temporary directory as <c>--dir</c>.
    /// </summary>
    private static async Task<ServerProcess> StartRedisAsync(int cpu, CancellationToken cancellationToken)
    {
        var redis = FindRedisServer() ?? throw new FileNotFoundException(RedisMissing);
        for (var attempt = 1; ; attempt++)
        {
            // Redis cannot report a port it chose (--port 0 turns TCP off), so take a free one; should
            // another process grab it first, Redis exits with "Address already in use": try another.
            var port = AdminViewer.FreePort();
            var start = PinnedStartInfo(cpu);

            AddCommand(start, [redis]);
            string[] settings = ["--save", string.Empty, "--appendonly", "no", "--daemonize", "no", "--dir", Path.GetTempPath()];
            foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1" }.Concat(settings))
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {redis}");
            var log = new List<string>();
            var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

            // Redis logs to stdout; keep reading it for the process's life so it never blocks on a full pipe.
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    ready.TrySetResult(false);
                    return;
                }

                if (!ready.Task.IsCompleted)
                {
                    lock (log)
                    {
                        log.Add(e.Data);
                    }

                    if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal))
                    {
                        ready.TrySetResult(true);
                    }
                }
            };
            process.ErrorDataReceived += static (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            bool listening;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                using var registration = timeout.Token.Register(() => ready.TrySetResult(false));
                listening = await ready.Task.ConfigureAwait(false);
            }

            if (listening)
            {
                string version;
                lock (log)
                {
                    version = log.Select(l => l.IndexOf("Redis version=", StringComparison.Ordinal) is var at and >= 0 ? l[(at + "Redis version=".Length)..].Split(',')[0] : null).FirstOrDefault(v => v is not null) ?? "?";
                }

                return new ServerProcess(process, "redis", new IPEndPoint(IPAddress.Loopback, port), probeFile: null)
                {
                    Wire = RequestWire.Resp,
                    Settings = $"{redis} {version}, built-in defaults except {string.Join(' ', settings.Select(a => a.Length == 0 ? "''" : a))}",
                };
            }

            string lastLines;
            lock (log)
            {
                lastLines = string.Join(" | ", log.TakeLast(3));
            }

            await using (new ServerProcess(process, "redis", new IPEndPoint(IPAddress.Loopback, port), probeFile: null))
            {
                // Disposing stops it if it is still running.
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (attempt >= 3 || !lastLines.Contains("in use", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"redis-server did not start: {lastLines}");
            }
        }
    }
}
