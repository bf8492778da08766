using System.Diagnostics;
using System.Globalization;

namespace TcpStore.Bench.Load;

/// <summary>
/// Counts a server's system calls over a measured run with <c>strace -c -f -p PID</c> (which works
/// under gVisor, where perf cannot count syscalls). Tracing slows every syscall down, so a traced
/// run's throughput means nothing; its calls per request are what it is for. Slower servers also
/// find more ready sockets per epoll_wait, so the epoll_wait share is a lower bound.
/// </summary>
public sealed class SyscallTrace : IAsyncDisposable
{
    private readonly Process _strace;
    private readonly string _output;

    private SyscallTrace(Process strace, string output)
    {
        _strace = strace;
        _output = output;
    }

    /// <summary>Attaches to every thread of <paramref name="pid"/> and returns once attached.</summary>
    public static async Task<SyscallTrace> StartAsync(int pid)
    {
        var output = Path.Combine(Path.GetTempPath(), $"tcpstore-bench-strace-{pid}-{Environment.ProcessId}.txt");
        File.Delete(output);
        var start = new ProcessStartInfo("strace", ["-c", "-f", "-p", pid.ToString(CultureInfo.InvariantCulture), "-o", output])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var strace = Process.Start(start) ?? throw new InvalidOperationException("cannot run strace");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await strace.StandardError.ReadLineAsync(timeout.Token).ConfigureAwait(false) is { } line)
        {
            if (line.Contains("attached", StringComparison.Ordinal))
            {
                break;
            }
        }

        // The other threads attach right after the first; drain the rest of strace's messages.
        _ = strace.StandardError.ReadToEndAsync(CancellationToken.None);
        await Task.Delay(300).ConfigureAwait(false);
        return new SyscallTrace(strace, output);
    }

    /// <summary>Detaches (SIGINT) and returns the calls counted, by syscall name.</summary>
    public async Task<Dictionary<string, long>> StopAsync()
    {
        _ = SendSignal(_strace.Id, 2);
        await _strace.WaitForExitAsync().ConfigureAwait(false);
        var calls = new Dictionary<string, long>();
        foreach (var line in File.ReadLines(_output))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // "% time  seconds  usecs/call  calls  errors  syscall", errors may be blank.
            if (parts.Length >= 5 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out _)
                && parts[^1] != "total" && long.TryParse(parts[3], CultureInfo.InvariantCulture, out var count))
            {
                calls[parts[^1]] = count;
            }
        }

        return calls;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_strace.HasExited)
        {
            _strace.Kill();
            await _strace.WaitForExitAsync().ConfigureAwait(false);
        }

        _strace.Dispose();
        File.Delete(_output);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);
}
