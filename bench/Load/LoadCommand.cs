using System.CommandLine;
using System.Globalization;
using System.Net;

namespace TcpStore.Bench.Load;

/// <summary>
/// <c>load</c>: starts the servers (ours, the C floor, PyTorch's libuv, Redis..., each pinned to CPU 0), pins itself to
/// CPU 1, measures every workload on each server alternately for several rounds and prints the
/// medians and ratios as the table in docs/performance.md.
/// </summary>
public static class LoadCommand
{
    /// <summary>The System.CommandLine command.</summary>
    public static Command Create()
    {
        var workloads = new Option<string>("--workloads") { Description = "Space-separated op:connections:depth rows (op: get|set|add|mixed).", DefaultValueFactory = _ => Workload.DefaultTable };
        var servers = new Option<string>("--servers") { Description = "Comma-separated servers to compare: ours, ours-sockets (the .NET-sockets transport), libuv, legacy, floor (bench/floor/request-floor.c, built with cc), ours-admin (ours with the admin listener on and its live page open, see --admin-viewer), redis (redis-server from PATH, answering GET, SET and INCRBY in RESP; skipped when not installed).", DefaultValueFactory = _ => "ours,floor,libuv" };
        var target = new Option<string?>("--target") { Description = "Measure an already running server at host:port instead of starting any." };
        var targetWire = new Option<RequestWire>("--target-wire") { Description = "The protocol the --target server speaks: TcpStore or Resp (Redis).", DefaultValueFactory = _ => RequestWire.TcpStore };
        var seconds = new Option<double>("--seconds") { Description = "Timed phase per run.", DefaultValueFactory = _ => 3 };
        var warmup = new Option<double>("--warmup") { Description = "Warm-up per run (not counted).", DefaultValueFactory = _ => 1 };
        var rounds = new Option<int>("--rounds") { Description = "Runs per server and workload; the median is reported.", DefaultValueFactory = _ => 3 };
        var keys = new Option<int>("--keys") { Description = "Key space size.", DefaultValueFactory = _ => 10_000 };
        var valueSize = new Option<int>("--value-size") { Description = "Value size in bytes.", DefaultValueFactory = _ => 64 };
        var getRatio = new Option<double>("--get-ratio") { Description = "Share of GETs in the mixed workload.", DefaultValueFactory = _ => 0.8 };
        var noPin = new Option<bool>("--no-pin") { Description = "Do not pin servers to CPU 0 and the load to CPU 1." };
        var serverWarmup = new Option<double>("--server-warmup") { Description = "Seconds of every row on every server before the first measured round (not counted), so .NET's tiered JIT has compiled every request path of ours before any round measures it (1 s left the first round of a row on instrumented code).", DefaultValueFactory = _ => 3 };
        var syscalls = new Option<bool>("--syscalls") { Description = "Count each server's system calls per request with strace -c -f (slows the traced runs down: their throughput means nothing)." };
        var engine = LoadEngineOption.Create();
        var viewer = new Option<string>("--admin-viewer") { Description = "How ours-admin's live page is kept open: poll (this process fetches what the page fetches, every second) or chromium:CPU (headless Chromium pinned to CPU).", DefaultValueFactory = _ => "poll" };

        var command = new Command("load", "Closed-loop throughput and latency of our server against PyTorch's, side by side.")
        {
            workloads, servers, target, targetWire, seconds, warmup, rounds, keys, valueSize, getRatio, noPin, engine, syscalls, serverWarmup, viewer,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var rows = parse.GetValue(workloads)!.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(w => Workload.Parse(w, parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(getRatio))).ToList();
            var settings = new RunSettings(TimeSpan.FromSeconds(parse.GetValue(warmup)), TimeSpan.FromSeconds(parse.GetValue(seconds)), Math.Max(1, parse.GetValue(rounds)), !parse.GetValue(noPin), LoadEngineOption.Check(parse.GetValue(engine)), parse.GetValue(syscalls), TimeSpan.FromSeconds(parse.GetValue(serverWarmup)));
            var targetText = parse.GetValue(target);
            if (targetText is not null)
            {
                return await MeasureTargetAsync(IPEndPoint.Parse(targetText), parse.GetValue(targetWire), rows, settings, cancellationToken).ConfigureAwait(false);
            }

            var kinds = parse.GetValue(servers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return await CompareAsync(kinds, rows, settings, parse.GetValue(viewer)!, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private sealed record RunSettings(TimeSpan Warmup, TimeSpan Duration, int Rounds, bool Pin, LoadEngine Engine, bool Syscalls, TimeSpan ServerWarmup);

    private static async Task<int> MeasureTargetAsync(IPEndPoint endPoint, RequestWire wire, List<Workload> rows, RunSettings settings, CancellationToken cancellationToken)
    {
        PinSelf(settings);
        Console.WriteLine($"# {endPoint}: {settings.Rounds} rounds x {settings.Duration.TotalSeconds:0.#} s (+{settings.Warmup.TotalSeconds:0.#} s warm-up), {settings.Engine.ToString().ToLowerInvariant()} engine; machine load {LoadAverage()}");
        foreach (var row in rows)
        {
            var catalog = RequestCatalog.Build(row, wire);
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
                    "floor" => (ServerKind.RequestFloor, false),
                    "redis" => (ServerKind.Redis, false),
                    _ => throw new ArgumentException($"unknown server '{kind}' (ours, ours-sockets, ours-admin, libuv, legacy, floor, redis)"),
                };
                if (serverKind == ServerKind.Redis && ServerProcess.FindRedisServer() is null)
                {
                    // Redis is an optional yardstick: the other columns still mean something without it.
                    Console.WriteLine($"# {ServerProcess.RedisMissing} (skipping redis)");
                    continue;
                }

                var adminPort = kind == "ours-admin" ? AdminViewer.FreePort() : 0;
                string[] extra = adminPort > 0 ? ["--admin-port", adminPort.ToString(CultureInfo.InvariantCulture)] : [];
                if (serverKind == ServerKind.Redis)
                {
                    try
                    {
                        started.Add(await ServerProcess.StartAsync(serverKind, settings.Pin ? 0 : 99, sockets, cancellationToken).ConfigureAwait(false));
                    }
                    catch (InvalidOperationException ex)
                    {
                        Console.WriteLine($"# {ex.Message} (skipping redis)");
                        continue;
                    }
                }
                else
                {
                    started.Add(await ServerProcess.StartAsync(serverKind, settings.Pin ? 0 : 99, sockets, cancellationToken, probe: true, extraArguments: extra).ConfigureAwait(false));
                }

                if (adminPort > 0)
                {
                    started[^1].Name = "ours+admin";
                    viewers.Add(await AdminViewer.OpenAsync(new Uri($"http://127.0.0.1:{adminPort}/"), viewerMode, cancellationToken).ConfigureAwait(false));
                }

                Console.WriteLine($"# {started[^1].Name}: pid {started[^1].Pid} on {started[^1].EndPoint}{(settings.Pin ? ", pinned to CPU 0" : string.Empty)}{(adminPort > 0 ? $", admin page on port {adminPort} open ({viewerMode})" : string.Empty)}{(started[^1].Settings is { } configured ? $"; {configured}" : string.Empty)}");
            }

            if (started.Count == 0)
            {
                await Console.Error.WriteLineAsync($"load: no server to measure{(kinds.Contains("redis") ? $" ({ServerProcess.RedisMissing})" : string.Empty)}").ConfigureAwait(false);
                return 2;
            }

            PinSelf(settings);
            Console.WriteLine($"# {settings.Rounds} rounds x {settings.Duration.TotalSeconds:0.#} s (+{settings.Warmup.TotalSeconds:0.#} s warm-up) per server and workload, servers alternating, {settings.Engine.ToString().ToLowerInvariant()} engine; machine load {LoadAverage()}");
            if (settings.ServerWarmup > TimeSpan.Zero)
            {
                // A fresh .NET server runs its first requests of each kind in unoptimized code and
                // compiles the optimized code in the background (seen as 10-18 % of its CPU in libclrjit
                // during a first round); one pass over every row first keeps that out of every round.
                Console.WriteLine($"# warm-up pass: every row on every server for {settings.ServerWarmup.TotalSeconds:0.#} s, not counted");
                foreach (var row in rows)
                {
                    var catalogs = Catalogs(row, started);
                    foreach (var server in started)
                    {
                        _ = await LoadRunner.RunAsync(server.EndPoint, row, catalogs[server.Wire], TimeSpan.Zero, settings.ServerWarmup, settings.Engine, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            var table = new List<(Workload Row, LoadResult[] Median)>();
            foreach (var row in rows)
            {
                var catalogs = Catalogs(row, started);
                var results = started.Select(_ => new List<LoadResult>()).ToArray();
                for (var r = 0; r < settings.Rounds; r++)
                {
                    // Alternate the order per round so drift on the shared machine hits both alike.
                    var order = Enumerable.Range(0, started.Count);
                    foreach (var s in r % 2 == 0 ? order : order.Reverse())
                    {
                        var hook = new ServerCostHook(started[s], settings.Syscalls);
                        var result = await LoadRunner.RunAsync(started[s].EndPoint, row, catalogs[started[s].Wire], settings.Warmup, settings.Duration, settings.Engine, cancellationToken, hook).ConfigureAwait(false);
                        result = result with { Cost = hook.Cost(result.Completed) };
                        results[s].Add(result);
                        Console.WriteLine(FormatRun(row, started[s].Name, r, result));
                    }
                }

                table.Add((row, results.Select(Median).ToArray()));
            }

            Console.WriteLine($"# machine load at the end {LoadAverage()}");
            LoadTable.Print(started.Select(s => s.Name).ToList(), table);
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

    // One catalog per protocol spoken by the servers: the same keys, values and key sequence, encoded for each.
    private static Dictionary<RequestWire, RequestCatalog> Catalogs(Workload row, List<ServerProcess> servers) =>
        servers.Select(s => s.Wire).Distinct().ToDictionary(w => w, w => RequestCatalog.Build(row, w));

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
        return mid with
        {
            P99Ns = p99,
            FailedConnections = runs.Max(r => r.FailedConnections),
            ErrorReplies = runs.Max(r => r.ErrorReplies),
            Misses = runs.Max(r => r.Misses),
            Cost = LoadTable.MedianCost(runs),
        };
    }

    private static string FormatRun(Workload row, string server, int round, LoadResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"run {row.Label,-22} {server,-14} round {round + 1}: {r.OpsPerSecond / 1000,8:0.0} kops/s  p50 {Ms(r.P50Ns)}  p99 {Ms(r.P99Ns)}  p999 {Ms(r.P999Ns)}{LoadTable.FormatCost(r.Cost)}{(r.FailedConnections > 0 ? $"  FAILED connections: {r.FailedConnections} ({r.FirstFailure})" : string.Empty)}{(r.ErrorReplies > 0 ? $"  ERROR replies: {r.ErrorReplies} ({r.FirstError})" : string.Empty)}{(r.Misses > 0 ? $"  MISSES: {r.Misses}" : string.Empty)}");

    internal static string Ms(long ns) => (ns / 1e6).ToString(ns < 10_000_000 ? "0.00" : "0", CultureInfo.InvariantCulture);

    internal static string LoadAverage()
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
