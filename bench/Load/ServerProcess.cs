using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TcpStore.Bench.Load;

/// <summary>Which server a run measures.</summary>
public enum ServerKind
{
    /// <summary>Our server, <c>tcpstore serve</c> (Release build).</summary>
    Ours,

    /// <summary>PyTorch 2.10's libuv server, through the shim.</summary>
    LibUv,

    /// <summary>PyTorch 2.10's legacy (poll) server, through the shim.</summary>
    Legacy,

    /// <summary>
    /// bench/floor/barrier-floor.c: the least any server can do for the barrier (VALIDATE, ADD, SET,
    /// WAIT, PING only), a yardstick for what the sandbox's TCP handshakes cost on their own.
    /// </summary>
    Floor,

    /// <summary>
    /// bench/floor/request-floor.c: the least any server can do for the load rows (VALIDATE, SET, GET,
    /// ADD, CHECK, PING): one epoll thread, one recv and one send per ready socket, an open-addressing
    /// map, no limits. The yardstick of <c>load</c>'s ours / floor ratio.
    /// </summary>
    RequestFloor,

    /// <summary>
    /// Redis (<c>redis-server</c> from PATH, Debian's package), answering the load rows' equivalents
    /// in RESP: GET, SET, INCRBY. Persistence off, otherwise its defaults (see <c>StartRedisAsync</c>).
    /// </summary>
    Redis,
}

/// <summary>A server child process pinned to one core, with its port and resident memory.</summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, string name, IPEndPoint endPoint, string? probeFile)
    {
        _process = process;
        Name = name;
        EndPoint = endPoint;
        ProbeFile = probeFile;
    }

    /// <summary>
    /// The file our server's probe (<c>StartupHook</c>) writes its GC counts to when signalled; null
    /// for servers without one.
    /// </summary>
    public string? ProbeFile { get; }

    /// <summary>
    /// More <c>tcpstore serve</c> arguments for every 'ours' server (barrier's <c>--ours-args</c>), for
    /// example the etcd engine's <c>--engine Etcd --etcd-endpoints ...</c>.
    /// </summary>
    public static IReadOnlyList<string> OursExtraArguments { get; set; } = [];

    /// <summary>The protocol it speaks.</summary>
    public RequestWire Wire { get; private init; } = RequestWire.TcpStore;

    /// <summary>How it was configured, when that is worth printing (Redis: its version and the settings changed from its defaults).</summary>
    public string? Settings { get; private init; }

    /// <summary>A short name for tables.</summary>
    public string Name { get; set; }

    /// <summary>Where it listens (loopback).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Resident set size in bytes, from /proc.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>
    /// Starts a server on an ephemeral port, pinned to <paramref name="cpu"/>, and waits for its
    /// listening line.
    /// </summary>
    /// <param name="kind">Which server.</param>
    /// <param name="cpu">The CPU to pin it to (beyond the machine's: unpinned).</param>
    /// <param name="socketsTransport">Ours only: the .NET-sockets transport.</param>
    /// <param name="cancellationToken">Cancels the wait for its listening line.</param>
    /// <param name="probe">Ours only: load the GC probe (<c>StartupHook</c>) into the server.</param>
    /// <param name="extraArguments">Ours only: more <c>serve</c> arguments for this one server (e.g. <c>--admin-port</c>).</param>
    public static async Task<ServerProcess> StartAsync(ServerKind kind, int cpu, bool socketsTransport, CancellationToken cancellationToken, bool probe = false, IReadOnlyList<string>? extraArguments = null)
    {
        if (kind == ServerKind.Redis)
        {
            return await StartRedisAsync(cpu, cancellationToken).ConfigureAwait(false);
        }

        string? probeFile = null;
        var start = PinnedStartInfo(cpu);

        string name;
        if (kind == ServerKind.Ours)
        {
            name = socketsTransport ? "ours (sockets)" : "ours";
            AddCommand(start, Paths.OurServer());
            foreach (var arg in new[] { "serve", "--port", "0", "--host", "127.0.0.1", "--log-level", "Warning" })
            {
                start.ArgumentList.Add(arg);
            }

            if (socketsTransport)
            {
                start.ArgumentList.Add("--transport");
                start.ArgumentList.Add("sockets");
            }

            foreach (var arg in OursExtraArguments.Concat(extraArguments ?? []))
            {
                start.ArgumentList.Add(arg);
            }

            if (probe)
            {
                probeFile = Path.Combine(Path.GetTempPath(), $"tcpstore-bench-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.txt");
                start.Environment["DOTNET_STARTUP_HOOKS"] = typeof(ServerProcess).Assembly.Location;
                start.Environment["TCPSTORE_BENCH_PROBE"] = probeFile;
            }
        }
        else if (kind == ServerKind.Floor)
        {
            name = "floor (C)";
            AddCommand(start, [Paths.Floor(), "0"]);
        }
        else if (kind == ServerKind.RequestFloor)
        {
            name = "floor";
            AddCommand(start, [Paths.Floor("request-floor"), "0"]);
        }
        else
        {
            name = kind == ServerKind.LibUv ? "libuv" : "legacy";
            AddCommand(start, [Paths.Shim()]);
            WithoutDnsLookups(start);
            foreach (var arg in new[] { "server", "--port", "0", "--libuv", kind == ServerKind.LibUv ? "1" : "0" })
            {
                start.ArgumentList.Add(arg);
            }

            // The real server does reverse DNS per accept; cap a lost reply at 1 s instead of 5.
            start.Environment["RES_OPTIONS"] = "timeout:1 attempts:1";
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");
        // PyTorch can log a lot to stderr; drain it so the server never blocks on a full pipe.
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            if (line is null)
            {
                throw new InvalidOperationException($"{name} exited before listening (exit code {(process.HasExited ? process.ExitCode : -1)})");
            }

            if (line.StartsWith("listening on ", StringComparison.Ordinal))
            {
                var port = int.Parse(line[(line.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
                return new ServerProcess(process, name, new IPEndPoint(IPAddress.Loopback, port), probeFile);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // Ours and the floors stop on stdin EOF, the others are killed (Redis runs without persistence).
            _process.StandardInput.Close();
            try
            {
                _process.Kill();
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }

            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
        if (ProbeFile is not null)
        {
            File.Delete(ProbeFile);
        }
    }

    /// <summary>
    /// PyTorch's server resolves every peer's name (getnameinfo) on its event loop; with DNS in
    /// nsswitch a lost reply stalls it for a second, which would measure the resolver, not the
    /// server. The reference numbers were taken with "hosts: files", so run it in a private mount
    /// namespace that sees such an nsswitch.conf (as root; otherwise it runs unchanged).
    /// </summary>
    private static void WithoutDnsLookups(ProcessStartInfo start)
    {
        if (!File.Exists("/usr/bin/unshare") || Environment.UserName != "root")
        {
            return;
        }

        var nsswitch = Path.Combine(Path.GetTempPath(), "tcpstore-bench-nsswitch.conf");
        File.WriteAllText(nsswitch, "hosts: files\n");
        var command = new List<string> { start.FileName };
        command.AddRange(start.ArgumentList);
        start.FileName = "/usr/bin/unshare";
        start.ArgumentList.Clear();
        foreach (var arg in new[] { "-m", "/bin/sh", "-c", "mount --bind \"$0\" /etc/nsswitch.conf 2>/dev/null; exec \"$@\"", nsswitch })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var arg in command)
        {
            start.ArgumentList.Add(arg);
        }
    }

    // Redirected standard streams and, where pinning applies, the taskset prefix: every server starts this way.
    private static ProcessStartInfo PinnedStartInfo(int cpu)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in CpuAffinity.TasksetPrefix(cpu))
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    private static void AddCommand(ProcessStartInfo start, string[] command)
    {
        if (start.ArgumentList.Count == 0)
        {
            start.FileName = command[0];
            foreach (var arg in command.Skip(1))
            {
                start.ArgumentList.Add(arg);
            }

            return;
        }

        start.FileName = start.ArgumentList[0];
        start.ArgumentList.RemoveAt(0);
        foreach (var arg in command)
        {
            start.ArgumentList.Add(arg);
        }
    }
}

/// <summary>Where the servers' binaries are.</summary>
public static class Paths
{
    /// <summary>The repository root: the first ancestor holding TcpStore.sln.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TcpStore.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (TcpStore.sln) above " + AppContext.BaseDirectory);
    }

    /// <summary>Our server, copied next to this program by the project reference (Release when this is Release).</summary>
    public static string[] OurServer()
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, "tcpstore");
        if (File.Exists(apphost))
        {
            return [apphost];
        }

        return ["dotnet", Path.Combine(AppContext.BaseDirectory, "tcpstore.dll")];
    }

    /// <summary>
    /// A floor server of bench/floor (<c>barrier-floor</c> by default, or <c>request-floor</c>),
    /// compiled on demand with the machine's C compiler.
    /// </summary>
    public static string Floor(string name = "barrier-floor")
    {
        var root = RepoRoot();
        var source = Path.Combine(root, "bench", "floor", name + ".c");
        var binary = Path.Combine(root, "bench", "floor", "build", name);
        var header = Path.Combine(root, "bench", "floor", "floor-listen.h");
        var newestSource = new[] { source, header }.Max(File.GetLastWriteTimeUtc);
        if (File.Exists(binary) && File.GetLastWriteTimeUtc(binary) >= newestSource)
        {
            return binary;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(binary)!);
        using var build = Process.Start(new ProcessStartInfo("cc", ["-O2", "-o", binary, source]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("cannot run cc");
        build.WaitForExit();
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException("cc failed to build " + source);
        }

        return binary;
    }

    /// <summary>The PyTorch shim, built on demand with native/shim/build.sh.</summary>
    public static string Shim()
    {
        var fromEnv = Environment.GetEnvironmentVariable("TCPSTORE_SHIM");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }

        var root = RepoRoot();
        var shim = Path.Combine(root, "native", "shim", "build", "tcpstore-shim");
        using var build = Process.Start(new ProcessStartInfo("/bin/bash", [Path.Combine(root, "native", "shim", "build.sh")]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("cannot run native/shim/build.sh");
        build.WaitForExit();
        if (build.ExitCode != 0 || !File.Exists(shim))
        {
            throw new InvalidOperationException("native/shim/build.sh failed; the shim needs g++ and the restored libtorch-cpu-linux-x64 package");
        }

        return shim;
    }
}
