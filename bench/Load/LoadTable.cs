using System.Globalization;
using System.Text;

namespace TcpStore.Bench.Load;

/// <summary>
/// The tables <c>load</c> prints: throughput and p99 per server with the ratios ours / floor (the C
/// request floor), p99 ours / floor, ours / libuv, ours / redis, p99 ours / redis and ours+admin / ours (the admin listener's
/// overhead); then each server's cost per request (CPU,
/// context switches, system calls when traced, GCs and bytes allocated).
/// </summary>
public static class LoadTable
{
    /// <summary>Prints both tables for the medians of every row.</summary>
    public static void Print(List<string> names, List<(Workload Row, LoadResult[] Median)> table)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(table);
        var ours = names.IndexOf("ours");
        var floor = names.IndexOf("floor");
        var libuv = names.IndexOf("libuv");
        var ratios = new List<(string Title, Func<LoadResult[], string> Cell)>();
        if (ours >= 0 && floor >= 0)
        {
            ratios.Add(("ours / floor", m => Ratio(m[ours].OpsPerSecond, m[floor].OpsPerSecond)));
            ratios.Add(("p99 ours / floor", m => Ratio(m[ours].P99Ns, m[floor].P99Ns)));
        }

        if (ours >= 0 && libuv >= 0)
        {
            ratios.Add(("ours / libuv", m => Ratio(m[ours].OpsPerSecond, m[libuv].OpsPerSecond)));
        }

        // Redis answers the RESP equivalents (GET, SET without CHECK, INCRBY): see docs/performance.md.
        var redis = names.IndexOf("redis");
        if (ours >= 0 && redis >= 0)
        {
            ratios.Add(("ours / redis", m => Ratio(m[ours].OpsPerSecond, m[redis].OpsPerSecond)));
            ratios.Add(("p99 ours / redis", m => Ratio(m[ours].P99Ns, m[redis].P99Ns)));
        }

        // The admin listener's overhead: the same server with its live page open, against it closed.
        var admin = names.IndexOf("ours+admin");
        if (ours >= 0 && admin >= 0)
        {
            ratios.Add(("ours+admin / ours", m => Ratio(m[admin].OpsPerSecond, m[ours].OpsPerSecond)));
            ratios.Add(("p99 ours+admin / ours", m => Ratio(m[admin].P99Ns, m[ours].P99Ns)));
        }

        Console.WriteLine();
        Console.WriteLine("Medians, thousand ops/s (p99 in ms):");
        var header = "| op, conns x depth | " + string.Join(" | ", names.Concat(ratios.Select(r => r.Title))) + " |";
        Console.WriteLine(header);
        Console.WriteLine("|" + string.Concat(Enumerable.Repeat("---|", names.Count + ratios.Count + 1)));
        foreach (var (row, medians) in table)
        {
            var cells = medians.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.OpsPerSecond / 1000:0} (p99 {LoadCommand.Ms(m.P99Ns)}){(m.FailedConnections > 0 || m.ErrorReplies > 0 ? " ERR" : string.Empty)}{(m.Misses > 0 ? " MISS" : string.Empty)}"))
                .Concat(ratios.Select(r => r.Cell(medians)));
            Console.WriteLine($"| {row.Label} | {string.Join(" | ", cells)} |");
        }

        Console.WriteLine();
        Console.WriteLine("Server cost per request, medians: user + kernel CPU µs, context switches, system calls (strace, --syscalls), GCs gen0/1/2 in the run, bytes allocated:");
        Console.WriteLine("| op, conns x depth | server | user µs | kernel µs | switches | syscalls | GCs | B/op |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (row, medians) in table)
        {
            for (var s = 0; s < names.Count; s++)
            {
                if (medians[s].Cost is not { } c)
                {
                    continue;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {row.Label} | {names[s]} | {c.UserMicros:0.00} | {c.SystemMicros:0.00} | {c.SwitchesPerOp:0.00} | {Syscalls(c)} | {Gcs(c)} | {(double.IsNaN(c.AllocatedPerOp) ? "-" : c.AllocatedPerOp.ToString("0.0", CultureInfo.InvariantCulture))} |"));
            }
        }
    }

    /// <summary>The per-median cost: the median of every field over the rounds.</summary>
    public static ServerCost? MedianCost(IReadOnlyList<LoadResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var costs = runs.Select(r => r.Cost).OfType<ServerCost>().ToList();
        if (costs.Count == 0)
        {
            return null;
        }

        static double Mid(IEnumerable<double> values)
        {
            var sorted = values.Order().ToList();
            return sorted[sorted.Count / 2];
        }

        var collections = costs.All(c => c.Collections is not null)
            ? Enumerable.Range(0, 3).Select(g => (long)Mid(costs.Select(c => (double)c.Collections![g]))).ToArray()
            : null;
        Dictionary<string, double>? calls = null;
        if (costs.All(c => c.SyscallsPerOp is not null))
        {
            calls = costs.SelectMany(c => c.SyscallsPerOp!.Keys).Distinct()
                .ToDictionary(k => k, k => Mid(costs.Select(c => c.SyscallsPerOp!.GetValueOrDefault(k))));
        }

        return new ServerCost(Mid(costs.Select(c => c.UserMicros)), Mid(costs.Select(c => c.SystemMicros)), Mid(costs.Select(c => c.SwitchesPerOp)), collections, Mid(costs.Select(c => c.AllocatedPerOp)))
        {
            SyscallsPerOp = calls,
        };
    }

    /// <summary>The cost part of a run's line (empty without one).</summary>
    public static string FormatCost(ServerCost? cost) => cost is null
        ? string.Empty
        : string.Create(CultureInfo.InvariantCulture, $"  cpu {cost.UserMicros:0.00}+{cost.SystemMicros:0.00} us/op  switches {cost.SwitchesPerOp:0.00}/op  gc {Gcs(cost)}  alloc {(double.IsNaN(cost.AllocatedPerOp) ? "-" : cost.AllocatedPerOp.ToString("0.0", CultureInfo.InvariantCulture))} B/op{(cost.SyscallsPerOp is null ? string.Empty : "  syscalls " + Syscalls(cost))}");

    private static string Gcs(ServerCost cost) => cost.Collections is { } g ? $"{g[0]}/{g[1]}/{g[2]}" : "-";

    // Total per request, then the calls that make up most of it.
    private static string Syscalls(ServerCost cost)
    {
        if (cost.SyscallsPerOp is not { } calls)
        {
            return "-";
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{calls.Values.Sum():0.00}:");
        foreach (var (name, perOp) in calls.OrderByDescending(c => c.Value).Where(c => c.Value >= 0.005).Take(8))
        {
            text.Append(CultureInfo.InvariantCulture, $" {name} {perOp:0.00}");
        }

        return text.ToString();
    }

    private static string Ratio(double value, double baseline) =>
        baseline > 0 ? string.Create(CultureInfo.InvariantCulture, $"{value / baseline:0.00}x") : "n/a";
}
