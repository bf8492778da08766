using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// A real 3-member etcd cluster (Debian's etcd-server) on loopback ports with fresh data
/// directories (on tmpfs when there is one: fsync dominates etcd's latency on a shared disk),
/// torn down and deleted on dispose.
/// </summary>
public sealed partial class EtcdTestCluster : IAsyncLifetime
{
    private const int Members = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly Process?[] _processes = new Process?[Members];
    private readonly int[] _clientPorts = new int[Members];
    private readonly int[] _peerPorts = new int[Members];
    private readonly string _root;
    private readonly string _token = "tcpstore-test-" + Guid.NewGuid().ToString("N")[..8];

    public EtcdTestCluster()
    {
        var tmp = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _root = Path.Combine(tmp, "tcpstore-etcd-" + Guid.NewGuid().ToString("N"));
    }

    /// <summary>The members' client URLs.</summary>
    public IReadOnlyList<Uri> Endpoints => [.. _clientPorts.Select(p => new Uri($"http://127.0.0.1:{p}"))];

    /// <summary>The etcd binary (PATH, else Debian's path).</summary>
    public static string Binary =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':')
            .Select(d => Path.Combine(d, "etcd")).FirstOrDefault(File.Exists) ?? "/usr/bin/etcd";

    public async ValueTask InitializeAsync()
    {
        var ports = FreePorts(2 * Members);
        for (var i = 0; i < Members; i++)
        {
            _clientPorts[i] = ports[2 * i];
            _peerPorts[i] = ports[(2 * i) + 1];
        }

        Directory.CreateDirectory(_root);
        for (var i = 0; i < Members; i++)
        {
            Start(i, existing: false);
        }

        await WaitHealthyAsync(Enumerable.Range(0, Members));
    }

    /// <summary>Kills one member (SIGKILL, as a machine dying would).</summary>
    public void Kill(int member)
    {
        if (_processes[member] is { } process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
            _processes[member] = null;
        }
    }

    /// <summary>
    /// Freezes every member (SIGSTOP): requests already sent to the cluster stay unanswered, as with a cluster that
    /// stalls, until <see cref="ResumeAll"/>. Keep it short: members resume with their election timers expired.
    /// </summary>
    public void PauseAll() => Signal(SigStop);

    /// <summary>Lets frozen members run again (SIGCONT).</summary>
    public void ResumeAll() => Signal(SigCont);

    /// <summary>Restarts a killed member on its data directory and waits until it is healthy.</summary>
    public async Task RestartAsync(int member)
    {
        Start(member, existing: true);
        await WaitHealthyAsync([member]);
    }

    /// <summary>Restarts every killed member (a quorum must come back together) and waits until all are healthy.</summary>
    public async Task RestartAllAsync()
    {
        var dead = Enumerable.Range(0, Members).Where(i => _processes[i] is null).ToList();
        dead.ForEach(i => Start(i, existing: true));
        await WaitHealthyAsync(dead);
    }

    public ValueTask DisposeAsync()
    {
        for (var i = 0; i < Members; i++)
        {
            Kill(i);
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a member that would not die still holds its files.
        }

        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private const int SigCont = 18;
    private const int SigStop = 19;

    private void Signal(int signal)
    {
        foreach (var process in _processes)
        {
            if (process is not null && SendSignal(process.Id, signal) != 0)
            {
                throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    private void Start(int i, bool existing)
    {
        var cluster = string.Join(',', Enumerable.Range(0, Members).Select(m => $"m{m}=http://127.0.0.1:{_peerPorts[m]}"));
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name", $"m{i}",
            "--data-dir", Path.Combine(_root, $"m{i}"),
            "--listen-client-urls", $"http://127.0.0.1:{_clientPorts[i]}",
            "--advertise-client-urls", $"http://127.0.0.1:{_clientPorts[i]}",
            "--listen-peer-urls", $"http://127.0.0.1:{_peerPorts[i]}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_peerPorts[i]}",
            "--initial-cluster", cluster,
            "--initial-cluster-token", _token,
            "--initial-cluster-state", existing ? "existing" : "new",
            "--log-level", "error",
            "--logger", "zap",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start etcd");
        // Drain the pipes so a chatty member never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes[i] = process;
    }

    private async Task WaitHealthyAsync(IEnumerable<int> members)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        foreach (var i in members)
        {
            while (true)
            {
                try
                {
                    var body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{_clientPorts[i]}/health"));
                    if (body.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                catch (TaskCanceledException)
                {
                    // No leader yet.
                }

                if (deadline.Elapsed > StartTimeout)
                {
                    throw new TimeoutException($"etcd member m{i} not healthy after {StartTimeout.TotalSeconds} s");
                }

                if (_processes[i] is { HasExited: true } dead)
                {
                    throw new InvalidOperationException($"etcd member m{i} exited with {dead.ExitCode}");
                }

                await Task.Delay(100);
            }
        }
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ =>
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return l;
        }).ToList();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}

/// <summary>Every etcd test class shares one cluster; each test uses its own key prefix.</summary>
[CollectionDefinition(Name)]
public sealed class EtcdCollection : ICollectionFixture<EtcdTestCluster>
{
    public const string Name = "etcd cluster";
}
