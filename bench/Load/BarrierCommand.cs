using System.Buffers.Binary;
using System.CommandLine;
using System.Diagnostics;
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
    private static readonly byte[] CounterKey = "/bench/barrier/count"u8.ToArray();
    private static readonly byte[] DoneKey = "/bench/barrier/done"u8.ToArray();

    /// <summary>The System.CommandLine command.</summary>
    public static Command Create()
    {
        var ranks = new Option<int>("--ranks") { Description = "Ranks (connections); the fd limit is 20,000 per process.", DefaultValueFactory = _ => 19_000 };
        var servers = new Option<string>("--servers") { Description = "Comma-separated: ours, ours-inline, libuv, legacy.", DefaultValueFactory = _ => "ours,libuv" };
        var rounds = new Option<int>("--rounds") { Description = "Barriers per server (each on a fresh server); the median is reported.", DefaultValueFactory = _ => 3 };
        var inFlight = new Option<int>("--max-connecting") { Description = "Ranks allowed between connect and their first reply (keeps the accept queue short).", DefaultValueFactory = _ => 1024 };
        var noPin = new Option<bool>("--no-pin") { Description = "Do not pin servers to CPU 0 and the ranks to CPU 1." };
        var command = new Command("barrier", "An N-rank rendezvous against each server: connect time, release time, server memory.")
        {
            ranks, servers, rounds, inFlight, noPin,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var n = parse.GetValue(ranks);
            var pin = !parse.GetValue(noPin);
            var rows = new List<string>();
            foreach (var kind in parse.GetValue(servers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var (serverKind, inline) = kind switch
                {
                    "ours" => (ServerKind.Ours, false),
                    "ours-inline" => (ServerKind.Ours, true),
                    "libuv" => (ServerKind.LibUv, false),
                    "legacy" => (ServerKind.Legacy, false),
                    _ => throw new ArgumentException($"unknown server '{kind}'"),
                };
                var results = new List<BarrierResult>();
                for (var r = 0; r < Math.Max(1, parse.GetValue(rounds)); r++)
                {
                    await using var server = await ServerProcess.StartAsync(serverKind, pin ? 0 : 99, inline, cancellationToken).ConfigureAwait(false);
                    if (pin)
                    {
                        CpuAffinity.PinProcess(1);
                    }

                    var result = await RunAsync(server, n, parse.GetValue(inFlight), cancellationToken).ConfigureAwait(false);
                    Console.WriteLine(Format(server.Name, r, n, result));
                    results.Add(result);
                }

                var median = results.OrderBy(x => x.Total).ElementAt(results.Count / 2);
                rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {results.Count switch { _ => kind }} | {n} | {median.Connected.TotalSeconds:0.00} | {median.Released.TotalSeconds:0.000} | {median.Total.TotalSeconds:0.00} | {median.RssIdleStart / 1048576.0:0.0} | {median.RssIdle / 1048576.0:0.0} | {median.BytesPerIdleConnection:0} | {(median.Failures > 0 ? median.Failures.ToString(CultureInfo.InvariantCulture) : "0")} |"));
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

    private static async Task<BarrierResult> RunAsync(ServerProcess server, int ranks, int maxConnecting, CancellationToken cancellationToken)
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
            CloseWithReset(socket);
        }

        await Task.Delay(1000, token).ConfigureAwait(false);

        // The rendezvous itself.
        var clock = Stopwatch.StartNew();
        long lastConnectedTicks = 0;
        long lastSetTicks = 0;
        long lastReleasedTicks = 0;
        var failures = 0;
        using var gate = new SemaphoreSlim(maxConnecting);
        var rankTasks = new Task[ranks];
        var sockets = new Socket?[ranks];
        for (var i = 0; i < ranks; i++)
        {
            var rank = i;
            rankTasks[i] = Task.Run(
                async () =>
                {
                    var released = false;
                    await gate.WaitAsync(token).ConfigureAwait(false);
                    try
                    {
                        var socket = await LoadConnection.ConnectSocketAsync(server.EndPoint, LoadRunner.SourceAddress(rank, ranks), token).ConfigureAwait(false);
                        sockets[rank] = socket;
                        InterlockedMax(ref lastConnectedTicks, clock.ElapsedTicks);
                        using var request = new PooledBufferWriter();
                        RequestWriter.WriteValidate(request);
                        RequestWriter.WriteAdd(request, default, CounterKey, 1);
                        await socket.SendAsync(request.WrittenMemory, SocketFlags.None, token).ConfigureAwait(false);
                        var reply = new byte[8];
                        await ReceiveExactlyAsync(socket, reply, token).ConfigureAwait(false);
                        gate.Release();
                        released = true;
                        var count = BinaryPrimitives.ReadInt64LittleEndian(reply);
                        request.Clear();
                        if (count == ranks)
                        {
                            InterlockedMax(ref lastSetTicks, clock.ElapsedTicks);
                            RequestWriter.WriteKeyValueCommand(request, QueryType.Set, default, DoneKey, "1"u8);
                        }

                        RequestWriter.WriteMultiHeader(request, QueryType.Wait, 1);
                        request.WriteBlob(DoneKey);
                        await socket.SendAsync(request.WrittenMemory, SocketFlags.None, token).ConfigureAwait(false);
                        await ReceiveExactlyAsync(socket, reply.AsMemory(0, 1), token).ConfigureAwait(false);
                        if (reply[0] != Protocol.StopWaiting)
                        {
                            throw new IOException("WAIT replied " + reply[0]);
                        }

                        InterlockedMax(ref lastReleasedTicks, clock.ElapsedTicks);
                    }
                    catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
                    {
                        Interlocked.Increment(ref failures);
                    }
                    finally
                    {
                        if (!released)
                        {
                            gate.Release();
                        }
                    }
                },
                CancellationToken.None);
        }

        await Task.WhenAll(rankTasks).ConfigureAwait(false);
        var total = clock.Elapsed;
        foreach (var socket in sockets)
        {
            if (socket is not null)
            {
                CloseWithReset(socket);
            }
        }

        var perTick = 1.0 / Stopwatch.Frequency;
        return new BarrierResult(
            TimeSpan.FromSeconds(lastConnectedTicks * perTick),
            TimeSpan.FromSeconds(Math.Max(0, lastReleasedTicks - lastSetTicks) * perTick),
            total,
            rssStart,
            rssIdle,
            (rssIdle - rssStart) / (double)ranks,
            failures);
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
                await ReceiveExactlyAsync(socket, new byte[4], token).ConfigureAwait(false);
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

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken token)
    {
        while (!buffer.IsEmpty)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("server closed the connection");
            }

            buffer = buffer[n..];
        }
    }

    private static void CloseWithReset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset.
        }

        socket.Dispose();
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
