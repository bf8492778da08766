using System.Runtime.InteropServices;

namespace TcpStore.Server.Linux;

/// <summary>Reads the process's open-file limit (RLIMIT_NOFILE) on Linux.</summary>
public static partial class FdLimit
{
    private const int RlimitNofile = 7;

    /// <summary>The soft limit, or null where it cannot be read.</summary>
    public static long? Current()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        return GetRLimit(RlimitNofile, out var limit) == 0 ? (long)Math.Min(limit.Current, long.MaxValue) : null;
    }

    /// <summary>How many descriptors the process has open now, or null where that cannot be read.</summary>
    public static int? OpenCount()
    {
        try
        {
            return OperatingSystem.IsLinux() ? Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, out RLimit limit);
}
