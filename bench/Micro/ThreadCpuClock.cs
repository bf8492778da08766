using System.Runtime.InteropServices;

namespace TcpStore.Bench.Micro;

/// <summary>
/// CPU time of the calling thread (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>). On a shared, oversubscribed
/// machine wall time mostly measures the neighbours; CPU time per operation measures what the
/// operation itself costs, including cache-line transfers and lock spinning between our threads.
/// </summary>
public static partial class ThreadCpuClock
{
    private const int ThreadCpuTimeId = 3;

    /// <summary>The calling thread's CPU time in nanoseconds, or 0 where the clock is not available.</summary>
    public static long Nanoseconds()
    {
        if (!OperatingSystem.IsLinux() || ClockGetTime(ThreadCpuTimeId, out var time) != 0)
        {
            return 0;
        }

        return (time.Seconds * 1_000_000_000L) + time.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);
}
