using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Linearizability;

/// <summary>
/// Concurrent clients issuing random ADD, COMPARE_SET, SET, APPEND, GET, WAIT and DELETE over
/// small key families (see <see cref="HistoryChecker"/>), recording every operation's interval.
/// </summary>
public sealed class Workload(int port, int seed, int clients, int opsPerClient, int waitKeys)
{
    public const string InitialCas = "0:init:0";
    public const string CasKey = "/lin/cas/0";
    private static readonly string[] Counters = ["/lin/ctr/0", "/lin/ctr/1"];
    private static readonly string[] Registers = ["/lin/reg/0", "/lin/reg/1", "/lin/reg/2"];
    private static readonly string[] Logs = ["/lin/log/0", "/lin/log/1"];
    private readonly ConcurrentQueue<Op> _history = new();

    public IReadOnlyList<Op> History => [.. _history];

    /// <summary>Front-ends to spread the clients over (client i uses Ports[i % n]); default: just <c>port</c>.</summary>
    public IReadOnlyList<int>? Ports { get; init; }

    public static IEnumerable<string> AllKeys(int waitKeys) =>
        Counters.Concat(Registers).Concat(Logs).Append(CasKey).Concat(Enumerable.Range(0, waitKeys).Select(WaitKey));

    public async Task RunAsync()
    {
        using (var init = await RawClient.ConnectAsync(port))
        {
            await init.SendAsync(RawClient.Set(CasKey, InitialCas));
            await SyncAsync(init);
        }

        var workers = Enumerable.Range(0, clients).Select(c => Task.Run(() => ClientAsync(c))).ToList();
        workers.Add(Task.Run(SetterAsync));
        await Task.WhenAll(workers);
    }

    private static string WaitKey(int j) => $"/lin/wait/{j}";

    // Sets each wait key once, spread over the run, so WAITs really block and are released by another connection.
    private async Task SetterAsync()
    {
        using var client = await RawClient.ConnectAsync(Ports is { } ports ? ports[^1] : port);
        var random = new Random(seed ^ 0x5E77E2);
        foreach (var j in Enumerable.Range(0, waitKeys).OrderBy(_ => random.Next()))
        {
            await Task.Delay(random.Next(2, 15));
            var started = Stopwatch.GetTimestamp();
            await client.SendAsync(RawClient.Set(WaitKey(j), "set"));
            await SyncAsync(client);
            _history.Enqueue(new Op(clients, OpKind.Set, WaitKey(j), "set", string.Empty, string.Empty, started, Stopwatch.GetTimestamp()));
        }
    }

    private async Task ClientAsync(int id)
    {
        using var client = await RawClient.ConnectAsync(Ports is { } ports ? ports[id % ports.Count] : port);
        var random = new Random(seed * 1000 + id);
        for (var seq = 0; seq < opsPerClient; seq++)
        {
            var kind = (OpKind)random.Next(7);
            var started = Stopwatch.GetTimestamp();
            Op op;
            switch (kind)
            {
                case OpKind.Add:
                    {
                        var key = Counters[random.Next(Counters.Length)];
                        var delta = random.Next(1, 6);
                        await client.SendAsync(RawClient.Add(key, delta));
                        var sum = await client.ReadInt64Async();
                        op = new Op(id, kind, key, Text(delta), string.Empty, Text(sum), started, Stopwatch.GetTimestamp());
                        break;
                    }

                case OpKind.CompareSet:
                    {
                        await client.SendAsync(RawClient.Get(CasKey));
                        var current = Encoding.UTF8.GetString(await client.ReadBlobAsync());
                        var generation = int.Parse(current.Split(':')[0], CultureInfo.InvariantCulture);
                        var desired = $"{generation + 1}:{id}:{seq}";
                        started = Stopwatch.GetTimestamp();
                        await client.SendAsync(RawClient.Frame(w => RequestWriter.WriteCompareSet(w, default, RawClient.Key(CasKey), RawClient.Key(current), RawClient.Key(desired))));
                        var reply = Encoding.UTF8.GetString(await client.ReadBlobAsync());
                        op = new Op(id, kind, CasKey, current, desired, reply, started, Stopwatch.GetTimestamp());
                        break;
                    }

                case OpKind.Set:
                    {
                        var key = Registers[random.Next(Registers.Length)];
                        var value = string.Join('-', Enumerable.Repeat($"c{id}s{seq}", 8));
                        await client.SendAsync(RawClient.Set(key, value));
                        await SyncAsync(client);
                        op = new Op(id, kind, key, value, string.Empty, string.Empty, started, Stopwatch.GetTimestamp());
                        break;
                    }

                case OpKind.Append:
                    {
                        var key = Logs[random.Next(Logs.Length)];
                        var token = $"[{id}.{seq}]";
                        await client.SendAsync(RawClient.Frame(w => RequestWriter.WriteKeyValueCommand(w, QueryType.Append, default, RawClient.Key(key), RawClient.Key(token))));
                        await SyncAsync(client);
                        op = new Op(id, kind, key, token, string.Empty, string.Empty, started, Stopwatch.GetTimestamp());
                        break;
                    }

                case OpKind.Get:
                    {
                        var key = random.Next(2) == 0 ? Registers[random.Next(Registers.Length)] : Logs[random.Next(Logs.Length)];
                        await client.SendAsync(RawClient.Get(key));
                        var value = Encoding.UTF8.GetString(await client.ReadBlobAsync());
                        op = new Op(id, kind, key, string.Empty, string.Empty, value, started, Stopwatch.GetTimestamp());
                        break;
                    }

                case OpKind.Wait:
                    {
                        var key = WaitKey(random.Next(waitKeys));
                        await client.SendAsync(RawClient.Multi(QueryType.Wait, key));
                        var answer = await client.ReadByteAsync(TimeSpan.FromSeconds(30));
                        Assert.Equal(Protocol.StopWaiting, answer);
                        op = new Op(id, kind, key, string.Empty, string.Empty, string.Empty, started, Stopwatch.GetTimestamp());
                        break;
                    }

                default:
                    {
                        var key = Registers[random.Next(Registers.Length)];
                        await client.SendAsync(RawClient.Frame(w => RequestWriter.WriteKeyCommand(w, QueryType.DeleteKey, default, RawClient.Key(key))));
                        var deleted = await client.ReadInt64Async();
                        op = new Op(id, OpKind.Delete, key, string.Empty, string.Empty, Text(deleted), started, Stopwatch.GetTimestamp());
                        break;
                    }
            }

            _history.Enqueue(op);
        }
    }

    // SET and APPEND have no reply; a PING after them returns only once they have been applied.
    private static async Task SyncAsync(RawClient client)
    {
        await client.SendAsync(RawClient.Frame(w => RequestWriter.WritePing(w, 42)));
        await client.ReceiveExactlyAsync(4);
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
