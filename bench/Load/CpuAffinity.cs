using System.Runtime.InteropServices;

namespace TcpStore.Bench.Load;

/// <summary>Pins this process to one CPU so the load never competes with the server's core.</summary>
public static partial class CpuAffinity
{
    /// <summary>Pins every existing thread of this process to <paramref name="cpu"/>; threads they start inherit it.</summary>
    /// <returns>False when the machine has fewer CPUs or the call failed (the run goes on unpinned).</returns>
    public static bool PinProcess(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu >= Environment.ProcessorCount || cpu > 63)
        {
            return false;
        }

        var mask = 1UL << cpu;
        var ok = true;
        // sched_setaffinity applies to one thread; the runtime already runs several.
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (int.TryParse(Path.GetFileName(task), out var tid))
            {
                ok &= SchedSetAffinity(tid, sizeof(ulong), ref mask) == 0;
            }
        }

        return ok;
    }

    /// <summary>The command prefix that pins a child process to <paramref name="cpu"/>, when taskset exists and there are enough CPUs.</summary>
    public static string[] TasksetPrefix(int cpu) =>
        Environment.ProcessorCount > cpu && File.Exists("/usr/bin/taskset") ? ["/usr/bin/taskset", "-c", cpu.ToString(System.Globalization.CultureInfo.InvariantCulture)] : [];

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nint size, ref ulong mask);
}
