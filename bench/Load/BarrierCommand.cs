using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Bench.Load;

/// <summary>
/// <c>barrier</c>: N ranks rendezvous as torch.distributed does at start-up (connect, VALIDATE,
/// ADD a counter, WAIT on a key the last rank SETs), against each server in turn. Also measures
/// the server's resident memory with 0 and N idle validated connections.
/// </summary>
public static class BarrierCommand
{
    /// <summary>The System.CommandLine command.</summary>
    public static Command Create()
    {
        var ranks = new Option<int>("--ranks") { Description = "Ranks (connections); the fd limit is 20,000 per process.", DefaultValueFactory = _ => 19_000 };
        var servers = new Option<string>("--servers") { Description = "Comma-separated: ours, ours-sockets (the .NET-sockets transport), libuv, legacy, floor (bench/floor/barrier-floor.c, the least any server can do).", DefaultValueFactory = _ => "ours,libuv,floor" };
        var rounds = new Option<int>("--rounds") { Description = "Barriers per server (each on a fresh server); the median is reported.", DefaultValueFactory = _ => 3 };
        var inFlight = new Option<int>("--max-connecting") { Description = "Ranks allowed between connect and their first reply (keeps the accept queue short).", DefaultValueFactory = _ => 1024 };
        var noPin = new Option<bool>("--no-pin") { Description = "Do not pin servers to CPU 0 and the ranks to CPU 1." };
        var oursArgs = new Option<string?>("--ours-args") { Description = "Extra 'tcpstore serve' arguments for ours, space-separated (e.g. the etcd engine's; '{round}' becomes the round number, for a fresh --etcd-prefix)." };
        var engineOption = LoadEngineOption.Create();
        var command = new Command("barrier", "An N-rank rendezvous against each server: connect time, release time, server memory.")
        {
            ranks, servers, rounds, inFlight, noPin, oursArgs, engineOption,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var n = parse.GetValue(ranks);
            var pin = !parse.GetValue(noPin);
            var engine = LoadEngineOption.Check(parse.GetValue(engineOption));
            Console.WriteLine($"# {engine.ToString().ToLowerInvariant()} engine");
            var kinds = parse.GetValue(servers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var results = kinds.ToDictionary(k => k, _ => new List<BarrierResult>());
            var roundCount = Math.Max(1, parse.GetValue(rounds));
            for (var r = 0; r < roundCount; r++)
            {
                // Servers alternate round by round (and the order flips every round), so a noisy
                // stretch on the shared machine lands on all of them rather than on one.
                var order = r % 2 == 0 ? kinds : kinds.Reverse().ToArray();
                ServerProcess.OursExtraArguments = (parse.GetValue(oursArgs) ?? string.Empty)
                    .Replace("{round}", r.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries);
                foreach (var kind in order)
                {
                    var (serverKind, sockets) = kind switch
                    {
                        "ours" => (ServerKind.Ours, false),
                        "ours-sockets" => (ServerKind.Ours, true),
                        "libuv" => (ServerKind.LibUv, false),
                        "legacy" => (ServerKind.Legacy, false),
                        "floor" => (ServerKind.Floor, false),
                        _ => throw new ArgumentException($"unknown server '{kind}'"),
                    };
                    await using var server = await ServerProcess.StartAsync(serverKind, pin ? 0 : 99, sockets, cancellationToken).ConfigureAwait(false);
                    if (pin)
                    {
                        CpuAffinity.PinProcess(1);
                    }

                    var result = await RunAsync(server, n, parse.GetValue(inFlight), engine, cancellationToken).ConfigureAwait(false);
                    Console.WriteLine(Format(server.Name, r, n, result));
                    results[kind].Add(result);
                }
            }

            var rows = new List<string>();
            foreach (var kind in kinds)
            {
                var median = results[kind].OrderBy(x => x.Total).ElementAt(results[kind].Count / 2);
                rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {kind} | {n} | {median.Connected.TotalSeconds:0.00} | {median.Released.TotalSeconds:0.000} | {median.Total.TotalSeconds:0.00} | {median.RssIdleStart / 1048576.0:0.0} | {median.RssIdle / 1048576.0:0.0} | {median.BytesPerIdleConnection:0} | {(median.Failures > 0 ? median.Failures.ToString(CultureInfo.InvariantCulture) : "0")} |"));
            }

            Console.WriteLine();
            Console.WriteLine("Medians; connect = all ranks connected and validated; release = last rank's SET to the last STOP_WAITING; total = start to all released.");
            Console.WriteLine("| server | ranks | connect s | release s | total s | RSS 0 conns MiB | RSS N idle MiB | bytes/idle conn | failed ranks |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var row in rows)
            {
                Console.WriteLine(row);
            }

            return 0;
        });
        return command;
    }

    private sealed record BarrierResult(TimeSpan Connected, TimeSpan Released, TimeSpan Total, long RssIdleStart, long RssIdle, double BytesPerIdleConnection, int Failures);

    private static string Format(string name, int round, int ranks, BarrierResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"barrier {name,-14} round {round + 1}: {ranks} ranks, connected in {r.Connected.TotalSeconds:0.00} s, released {r.Released.TotalSeconds * 1000:0} ms after the last SET, total {r.Total.TotalSeconds:0.00} s; RSS {r.RssIdleStart / 1048576.0:0.0} MiB -> {r.RssIdle / 1048576.0:0.0} MiB with {ranks} idle connections ({r.BytesPerIdleConnection:0} B each); failed ranks {r.Failures}");

    private static async Task<BarrierResult> RunAsync(ServerProcess server, int ranks, int maxConnecting, LoadEngine engine, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(180));
        var token = timeout.Token;

        // Idle memory: N connections that validated and then say nothing (as most ranks do for hours).
        await Task.Delay(500, token).ConfigureAwait(false);
        var rssStart = server.ResidentBytes();
        var idle = await OpenIdleAsync(server.EndPoint, ranks, maxConnecting, token).ConfigureAwait(false);
        await Task.Delay(1000, token).ConfigureAwait(false);
        GC.KeepAlive(idle);
        var rssIdle = server.ResidentBytes();
        foreach (var socket in idle)
        {
            AsyncBarrier.CloseWithReset(socket);
        }

        await Task.Delay(1000, token).ConfigureAwait(false);

        // The rendezvous itself.
        var times = engine == LoadEngine.Epoll
            ? await EpollBarrier.RunAsync(server.EndPoint, ranks, maxConnecting, token).ConfigureAwait(false)
            : await AsyncBarrier.RunAsync(server.EndPoint, ranks, maxConnecting, token).ConfigureAwait(false);
        return new BarrierResult(times.Connected, times.Released, times.Total, rssStart, rssIdle, (rssIdle - rssStart) / (double)ranks, times.Failures);
    }

    private static async Task<List<Socket>> OpenIdleAsync(IPEndPoint server, int count, int maxConnecting, CancellationToken token)
    {
        using var gate = new SemaphoreSlim(maxConnecting);
        var validate = new PooledBufferWriter();
        RequestWriter.WriteValidate(validate);
        RequestWriter.WritePing(validate, 7);
        var frame = validate.WrittenMemory.ToArray();
        validate.Release();
        var tasks = Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync(token).ConfigureAwait(false);
            try
            {
                var socket = await LoadConnection.ConnectSocketAsync(server, LoadRunner.SourceAddress(i, count), token).ConfigureAwait(false);
                await socket.SendAsync(frame, SocketFlags.None, token).ConfigureAwait(false);
                // The PING echo proves the server has accepted and validated this connection.
                await AsyncBarrier.ReceiveExactlyAsync(socket, new byte[4], token).ConfigureAwait(false);
                return socket;
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        var sockets = new List<Socket>(count);
        foreach (var task in tasks)
        {
            sockets.Add(await task.ConfigureAwait(false));
        }

        return sockets;
    }
}
