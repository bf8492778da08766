using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace TcpStore.Bench.Load;

/// <summary>
/// A server's counters at one instant: CPU time and context switches from /proc (every thread), and,
/// for our server started with the probe (see <c>StartupHook</c>), its GC counts and bytes allocated.
/// </summary>
public sealed record ServerSample(long UserTicks, long SystemTicks, long VoluntarySwitches, long InvoluntarySwitches, long[]? Collections, long Allocated)
{
    private static readonly double TickSeconds = 1.0 / 100; // USER_HZ, 100 on Linux and in gVisor

    /// <summary>Reads the counters of process <paramref name="pid"/>; <paramref name="probeFile"/> is the probe's file, if any.</summary>
    public static async Task<ServerSample> TakeAsync(int pid, string? probeFile)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name (which may hold spaces) start at state, field 3; utime is 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var user = long.Parse(fields[11], CultureInfo.InvariantCulture);
        var system = long.Parse(fields[12], CultureInfo.InvariantCulture);
        long voluntary = 0, involuntary = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        voluntary += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                    else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        involuntary += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        long[]? collections = null;
        long allocated = 0;
        if (probeFile is not null && await ReadProbeAsync(pid, probeFile).ConfigureAwait(false) is { } probe)
        {
            collections = [probe[0], probe[1], probe[2]];
            allocated = probe[3];
        }

        return new ServerSample(user, system, voluntary, involuntary, collections, allocated);
    }

    /// <summary>What happened between <paramref name="before"/> and this sample, per <paramref name="ops"/> requests.</summary>
    public ServerCost Since(ServerSample before, double ops)
    {
        ArgumentNullException.ThrowIfNull(before);
        var perOp = ops > 0 ? 1e6 / ops : 0;
        return new ServerCost(
            (UserTicks - before.UserTicks) * TickSeconds * perOp,
            (SystemTicks - before.SystemTicks) * TickSeconds * perOp,
            ops > 0 ? (VoluntarySwitches - before.VoluntarySwitches + InvoluntarySwitches - before.InvoluntarySwitches) / ops : 0,
            Collections is null || before.Collections is null ? null : [Collections[0] - before.Collections[0], Collections[1] - before.Collections[1], Collections[2] - before.Collections[2]],
            Collections is null || before.Collections is null || ops <= 0 ? double.NaN : (Allocated - before.Allocated) / ops);
    }

    // Signals the probe and waits for it to replace the file (a second at most).
    private static async Task<long[]?> ReadProbeAsync(int pid, string probeFile)
    {
        File.Delete(probeFile);
        if (Kill(pid, 10) != 0)
        {
            return null;
        }

        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (File.Exists(probeFile))
            {
                return File.ReadAllText(probeFile).Split(' ').Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            }

            await Task.Delay(5).ConfigureAwait(false);
        }

        return null;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>A server's cost per request over one measured run.</summary>
/// <param name="UserMicros">User CPU µs per request.</param>
/// <param name="SystemMicros">Kernel CPU µs per request.</param>
/// <param name="SwitchesPerOp">Context switches (voluntary + involuntary, all threads) per request.</param>
/// <param name="Collections">Gen0, gen1, gen2 collections during the run (our server only).</param>
/// <param name="AllocatedPerOp">Bytes the server allocated per request (our server only).</param>
public sealed record ServerCost(double UserMicros, double SystemMicros, double SwitchesPerOp, long[]? Collections, double AllocatedPerOp)
{
    /// <summary>System calls per request by name, when the run was traced (<c>--syscalls</c>).</summary>
    public IReadOnlyDictionary<string, double>? SyscallsPerOp { get; init; }
}
