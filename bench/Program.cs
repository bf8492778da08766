using System.CommandLine;
using BenchmarkDotNet.Running;
using TcpStore.Bench.Load;

namespace TcpStore.Bench;

/// <summary>
/// Entry point: <c>load</c> and <c>barrier</c> run the socket-level comparisons; anything else is
/// handed to BenchmarkDotNet (for example <c>--filter '*Session*'</c>, <c>--job short</c>, <c>--list flat</c>).
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0] == "count")
        {
            return Micro.CountHarness.Run(args);
        }

        if (args.Length > 0 && args[0] is "load" or "barrier")
        {
            var root = new RootCommand("TcpStore load and rendezvous benchmarks against PyTorch's own server.")
            {
                LoadCommand.Create(),
                BarrierCommand.Create(),
            };
            return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
