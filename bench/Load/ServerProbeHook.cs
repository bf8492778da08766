using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;

/// <summary>
/// A .NET startup hook that <c>bench load</c> puts into our server (<c>DOTNET_STARTUP_HOOKS</c> naming
/// this assembly, <c>TCPSTORE_BENCH_PROBE</c> naming a file): on SIGUSR1 it writes the server's
/// garbage collection counts and bytes allocated so far to that file. The bench signals before and
/// after each measured run, so GCs and allocations per request come from inside the server without
/// dotnet-counters, an admin listener or any code in the server itself; between signals it costs
/// nothing. The runtime requires this name in the global namespace.
/// </summary>
[SuppressMessage("Design", "CA1050:Declare types in namespaces", Justification = "The runtime looks the hook up by this exact global name.")]
public static class StartupHook
{
    private const int SigUsr1 = 10;
    private static PosixSignalRegistration? s_registration;

    /// <summary>Called by the runtime before the server's Main.</summary>
    public static void Initialize()
    {
        var path = Environment.GetEnvironmentVariable("TCPSTORE_BENCH_PROBE");
        if (string.IsNullOrEmpty(path) || s_registration is not null)
        {
            return;
        }

        s_registration = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
        {
            context.Cancel = true;
            var text = string.Create(CultureInfo.InvariantCulture, $"{GC.CollectionCount(0)} {GC.CollectionCount(1)} {GC.CollectionCount(2)} {GC.GetTotalAllocatedBytes(precise: true)}");
            File.WriteAllText(path + ".tmp", text);
            File.Move(path + ".tmp", path, overwrite: true);
        });
    }
}
