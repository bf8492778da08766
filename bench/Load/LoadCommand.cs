using System.CommandLine;
using System.Globalization;
using System.Net;

namespace TcpStore.Bench.Load;

/// <summary>
/// <c>load</c>: starts the servers (ours and PyTorch's libuv, each pinned to CPU 0), pins itself to
/// CPU 1, measures every workload on each server alternately for several rounds and prints the
/// medians and ratios as the table in docs/performance.md.
/// </summary>
public static class LoadCommand
{
    /// <summary>The System.CommandLine command.</summary>
    public static Command Create()
    {
        var workloads = new Option<string>("--workloads") { Description = "Space-separated op:connections:depth rows (op: get|set|add|mixed).", DefaultValueFactory = _ => Workload.DefaultTable };
        var servers = new Option<string>("--servers") { Description = "Comma-separated servers to compare: ours, ours-sockets (the .NET-sockets transport), ours-admin (ours with the admin listener on and its live page open, see --admin-viewer), libuv, legacy.", DefaultValueFactory = _ => "ours,libuv" };
        var target = new Option<string?>("--target") { Description = "Measure an already running server at host:port instead of starting any." };
        var seconds = new Option<double>("--seconds") { Description = "Timed phase per run.", DefaultValueFactory = _ => 3 };
        var warmup = new Option<double>("--warmup") { Description = "Warm-up per run (not counted).", DefaultValueFactory = _ => 1 };
        var rounds = new Option<int>("--rounds") { Description = "Runs per server and workload; the median is reported.", DefaultValueFactory = _ => 3 };
        var keys = new Option<int>("--keys") { Description = "Key space size.", DefaultValueFactory = _ => 10_000 };
        var valueSize = new Option<int>("--value-size") { Description = "Value size in bytes.", DefaultValueFactory = _ => 64 };
        var getRatio = new Option<double>("--get-ratio") { Description = "Share of GETs in the mixed workload.", DefaultValueFactory = _ => 0.8 };
        var noPin = new Option<bool>("--no-pin") { Description = "Do not pin servers to CPU 0 and the load to CPU 1." };
        var engine = LoadEngineOption.Create();
        var viewer = new Option<string>("--admin-viewer") { Description = "How ours-admin's live page is kept open: poll (this process fetches what the page fetches, every second) or chromium:CPU (headless Chromium pinned to CPU).", DefaultValueFactory = _ => "poll" };

        var command = new Command("load", "Closed-loop throughput and latency of our server against PyTorch's, side by side.")
        {
            workloads, servers, target, seconds, warmup, rounds, keys, valueSize, getRatio, noPin, engine, viewer,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var rows = parse.GetValue(workloads)!.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(w => Workload.Parse(w, parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(getRatio))).ToList();
            var settings = new RunSettings(TimeSpan.FromSeconds(parse.GetValue(warmup)), TimeSpan.FromSeconds(parse.GetValue(seconds)), Math.Max(1, parse.GetValue(rounds)), !parse.GetValue(noPin), LoadEngineOption.Check(parse.GetValue(engine)));
            var targetText = parse.GetValue(target);
            if (targetText is not null)
            {
                return await MeasureTargetAsync(IPEndPoint.Parse(targetText), rows, settings, cancellationToken).ConfigureAwait(false);
            }

            var kinds = parse.GetValue(servers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return await CompareAsync(kinds, rows, settings, parse.GetValue(viewer)!, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private sealed record RunSettings(TimeSpan Warmup, TimeSpan Duration, int Rounds, bool Pin, LoadEngine Engine);

    private static async Task<int> MeasureTargetAsync(IPEndPoint endPoint, List<Workload> rows, RunSettings settings, CancellationToken cancellationToken)
    {
        PinSelf(settings);
        Console.WriteLine($"# {endPoint}: {settings.Rounds} rounds x {settings.Duration.TotalSeconds:0.#} s (+{settings.Warmup.TotalSeconds:0.#} s warm-up), {settings.Engine.ToString().ToLowerInvariant()} engine; machine load {LoadAverage()}");
        foreach (var row in rows)
        {
            var catalog = RequestCatalog.Build(row);
            for (var r = 0; r < settings.Rounds; r++)
            {
                var result = await LoadRunner.RunAsync(endPoint, row, catalog, settings.Warmup, settings.Duration, settings.Engine, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(FormatRun(row, endPoint.ToString(), r, result));
            }
        }

        return 0;
    }

    private static async Task<int> CompareAsync(string[] kinds, List<Workload> rows, RunSettings settings, string viewerMode, CancellationToken cancellationToken)
    {
        var started = new List<ServerProcess>();
        var viewers = new List<AdminViewer>();
        try
        {
            foreach (var kind in kinds)
            {
                var (serverKind, sockets) = kind switch
                {
                    "ours" => (ServerKind.Ours, false),
                    "ours-sockets" => (ServerKind.Ours, true),
                    "ours-admin" => (ServerKind.Ours, false),
                    "libuv" => (ServerKind.LibUv, false),
                    "legacy" => (ServerKind.Legacy, false),
                    _ => throw new ArgumentException($"unknown server '{kind}' (ours, ours-sockets, ours-admin, libuv, legacy)"),
                };
                var adminPort = kind == "ours-admin" ? AdminViewer.FreePort() : 0;
                string[] extra = adminPort > 0 ? ["--admin-port", adminPort.ToString(CultureInfo.InvariantCulture)] : [];
                started.Add(await ServerProcess.StartAsync(serverKind, settings.Pin ? 0 : 99, sockets, cancellationToken, extra).ConfigureAwait(false));
                if (adminPort > 0)
                {
                    started[^1].Name = "ours+admin";
                    viewers.Add(await AdminViewer.OpenAsync(new Uri($"http://127.0.0.1:{adminPort}/"), viewerMode, cancellationToken).ConfigureAwait(false));
                }

                Console.WriteLine($"# {started[^1].Name}: pid {started[^1].Pid} on {started[^1].EndPoint}{(settings.Pin ? ", pinned to CPU 0" : string.Empty)}{(adminPort > 0 ? $", admin page on port {adminPort} open ({viewerMode})" : string.Empty)}");
            }

            PinSelf(settings);
            Console.WriteLine($"# {settings.Rounds} rounds x {settings.Duration.TotalSeconds:0.#} s (+{settings.Warmup.TotalSeconds:0.#} s warm-up) per server and workload, servers alternating, {settings.Engine.ToString().ToLowerInvariant()} engine; machine load {LoadAverage()}");
            var table = new List<(Workload Row, LoadResult[] Median)>();
            foreach (var row in rows)
            {
                var catalog = RequestCatalog.Build(row);
                var results = started.Select(_ => new List<LoadResult>()).ToArray();
                for (var r = 0; r < settings.Rounds; r++)
                {
                    // Alternate the order per round so drift on the shared machine hits both alike.
                    var order = Enumerable.Range(0, started.Count);
                    foreach (var s in r % 2 == 0 ? order : order.Reverse())
                    {
                        var cpuBefore = started[s].CpuSeconds();
                        var result = await LoadRunner.RunAsync(started[s].EndPoint, row, catalog, settings.Warmup, settings.Duration, settings.Engine, cancellationToken).ConfigureAwait(false);
                        results[s].Add(result);
                        Console.WriteLine(FormatRun(row, started[s].Name, r, result) + string.Create(CultureInfo.InvariantCulture, $"  server CPU {started[s].CpuSeconds() - cpuBefore:0.00} s"));
                    }
                }

                table.Add((row, results.Select(Median).ToArray()));
            }

            PrintTable(started.Select(s => s.Name).ToList(), table);
            foreach (var viewer in viewers.Where(v => v.Polls + v.Failures > 0))
            {
                Console.WriteLine($"# admin page: {viewer.Polls} polls answered, {viewer.Failures} failed");
            }

            return 0;
        }
        finally
        {
            foreach (var viewer in viewers)
            {
                await viewer.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var server in started)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static void PinSelf(RunSettings settings)
    {
        if (settings.Pin && !CpuAffinity.PinProcess(1))
        {
            Console.WriteLine("# warning: could not pin the load generator to CPU 1");
        }
    }

    private static LoadResult Median(List<LoadResult> runs)
    {
        var sorted = runs.OrderBy(r => r.OpsPerSecond).ToList();
        var mid = sorted[sorted.Count / 2];
        var p99 = runs.Select(r => r.P99Ns).Order().ElementAt(runs.Count / 2);
        return mid with { P99Ns = p99, FailedConnections = runs.Max(r => r.FailedConnections) };
    }

    private static string FormatRun(Workload row, string server, int round, LoadResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"run {row.Label,-22} {server,-14} round {round + 1}: {r.OpsPerSecond / 1000,8:0.0} kops/s  p50 {Ms(r.P50Ns)}  p99 {Ms(r.P99Ns)}  p999 {Ms(r.P999Ns)}{(r.FailedConnections > 0 ? $"  FAILED connections: {r.FailedConnections} ({r.FirstFailure})" : string.Empty)}");

    private static void PrintTable(List<string> names, List<(Workload Row, LoadResult[] Median)> table)
    {
        // Against libuv when it ran; without it, against ours when ours+admin ran (the admin overhead).
        var baseline = names.FindIndex(n => n == "libuv");
        if (baseline < 0 && names.Contains("ours+admin"))
        {
            baseline = names.FindIndex(n => n == "ours");
        }

        Console.WriteLine();
        Console.WriteLine($"Medians, thousand ops/s (p99 in ms); ratio = server / {(baseline >= 0 ? names[baseline] : "none")}:");
        var header = "| op, conns x depth | " + string.Join(" | ", names.Select((n, i) => baseline >= 0 && i != baseline ? $"{n} | ratio" : n)) + " |";
        Console.WriteLine(header);
        Console.WriteLine("|" + string.Concat(Enumerable.Repeat("---|", header.Count(c => c == '|') - 1)));
        foreach (var (row, medians) in table)
        {
            var cells = new List<string>();
            for (var s = 0; s < names.Count; s++)
            {
                cells.Add(string.Create(CultureInfo.InvariantCulture, $"{medians[s].OpsPerSecond / 1000:0} (p99 {Ms(medians[s].P99Ns)}){(medians[s].FailedConnections > 0 ? " ERR" : string.Empty)}"));
                if (baseline >= 0 && s != baseline)
                {
                    var b = medians[baseline].OpsPerSecond;
                    cells.Add(b > 0 ? string.Create(CultureInfo.InvariantCulture, $"{medians[s].OpsPerSecond / b:0.00}x") : "n/a");
                }
            }

            Console.WriteLine($"| {row.Label} | {string.Join(" | ", cells)} |");
        }
    }

    private static string Ms(long ns) => (ns / 1e6).ToString(ns < 10_000_000 ? "0.00" : "0", CultureInfo.InvariantCulture);

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
