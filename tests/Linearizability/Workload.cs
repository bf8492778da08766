using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Linearizability;

/// <summary>
/// Concurrent clients issuing random ADD, COMPARE_SET, SET, APPEND, GET, WAIT, CHECK, DELETE,
/// MULTI_SET and MULTI_GET over small key families (see <see cref="HistoryChecker"/>), recording
/// every operation's interval.
/// </summary>
/// <param name="port">Server port.</param>
/// <param name="seed">Seed of every random choice.</param>
/// <param name="clients">Concurrent clients.</param>
/// <param name="opsPerClient">Operations per client.</param>
/// <param name="waitKeys">Set-once keys that WAIT and CHECK name (one to three at a time).</param>
/// <param name="shardOf">The server's shard of a key: each key group gets members on different shards.</param>
public sealed class Workload(int port, int seed, int clients, int opsPerClient, int waitKeys, Func<string, int> shardOf)
{
    /// <summary>Key groups: the keys that multi-key operations span together.</summary>
    public const int Groups = 2;

    /// <summary>Keys per group, each on its own shard.</summary>
    public const int GroupSize = 3;

    public const string InitialCas = "0:init:0";
    public const string CasKey = "/lin/cas/0";
    private static readonly string[] Counters = ["/lin/ctr/0", "/lin/ctr/1"];
    private static readonly string[] Registers = ["/lin/reg/0", "/lin/reg/1", "/lin/reg/2"];
    private static readonly string[] Logs = ["/lin/log/0", "/lin/log/1"];
    private readonly ConcurrentQueue<Op> _history = new();
    private readonly string[][] _groups = [.. Enumerable.Range(0, Groups).Select(g => SpreadKeys(g, shardOf))];
    private volatile bool _clientsDone;

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
        var clientsDone = Task.WhenAll(workers).ContinueWith(_ => _clientsDone = true, TaskScheduler.Default);
        workers.Add(Task.Run(SetterAsync));
        workers.Add(Task.Run(GroupWriterAsync));
        await Task.WhenAll(workers);
        await clientsDone;
    }

    private static string WaitKey(int j) => $"/lin/wait/{j}";

    private static string GroupName(int g) => $"/lin/grp/{g}";

    // Member i of a group is the first of k{i}.0, k{i}.1, ... on a shard no earlier member uses, so
    // that every multi-key operation on a group really spans shards.
    private static string[] SpreadKeys(int group, Func<string, int> shardOf)
    {
        var keys = new List<string>();
        var shards = new HashSet<int>();
        for (var i = 0; i < GroupSize; i++)
        {
            var n = 0;
            string key;
            while (!shards.Add(shardOf(key = $"{GroupName(group)}/k{i}.{n}")))
            {
                n++;
            }

            keys.Add(key);
        }

        return [.. keys];
    }

    // Multi-sets a whole group every few milliseconds while the clients run, so that every group
    // WAIT is eventually released (whatever DELETEs did meanwhile) and groups see plenty of writes.
    private async Task GroupWriterAsync()
    {
        using var client = await RawClient.ConnectAsync(port);
        var random = new Random(seed ^ 0x6A0F);
        for (var n = 0; !_clientsDone; n++)
        {
            await Task.Delay(random.Next(1, 6));
            var g = random.Next(Groups);
            var keys = _groups[g];
            var value = $"w{n}";
            var started = Stopwatch.GetTimestamp();
            await client.SendAsync(WireRequest.MultiSet([.. keys.Select(RawClient.Key)], [.. keys.Select(_ => RawClient.Key(value))]).Encode());
            await SyncAsync(client);
            _history.Enqueue(new Op(clients + 1, OpKind.MultiSet, GroupName(g), string.Empty, string.Empty, string.Empty, started, Stopwatch.GetTimestamp())
            {
                Keys = keys,
                Values = [.. keys.Select(_ => value)],
            });
        }
    }

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
            var choice = random.Next(10);
            if (choice >= 7)
            {
                _history.Enqueue(await GroupOpAsync(client, random, id, seq));
                continue;
            }

            var kind = (OpKind)choice;
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
                        // WAIT (or, one time in three, CHECK) on one to three set-once keys.
                        string[] keys = [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => WaitKey(random.Next(waitKeys))).Distinct()];
                        var check = random.Next(3) == 0;
                        await client.SendAsync(RawClient.Multi(check ? QueryType.Check : QueryType.Wait, keys));
                        var answer = await client.ReadByteAsync(TimeSpan.FromSeconds(30));
                        var result = check ? (answer == Protocol.CheckReady ? "1" : "0") : string.Empty;
                        Assert.True(check || answer == Protocol.StopWaiting, $"WAIT answered {answer}");
                        op = new Op(id, check ? OpKind.Check : kind, "/lin/wait/", string.Empty, string.Empty, result, started, Stopwatch.GetTimestamp()) { Keys = keys };
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

    // One operation on a random key group: single-key SET, DELETE and GET, or MULTI_SET, MULTI_GET,
    // CHECK and WAIT on a random subset of its keys (in random order).
    private async Task<Op> GroupOpAsync(RawClient client, Random random, int id, int seq)
    {
        var g = random.Next(Groups);
        var name = GroupName(g);
        var members = _groups[g];
        var kind = random.Next(7) switch
        {
            0 => OpKind.Set,
            1 => OpKind.Delete,
            2 => OpKind.Get,
            3 => OpKind.MultiSet,
            4 => OpKind.MultiGet,
            5 => OpKind.Check,
            _ => OpKind.Wait,
        };
        var single = kind is OpKind.Set or OpKind.Delete or OpKind.Get;
        string[] keys = [.. members.OrderBy(_ => random.Next()).Take(single ? 1 : random.Next(kind == OpKind.MultiSet ? 2 : 1, GroupSize + 1))];
        var value = $"c{id}s{seq}";
        var started = Stopwatch.GetTimestamp();
        switch (kind)
        {
            case OpKind.Set:
                await client.SendAsync(RawClient.Set(keys[0], value));
                await SyncAsync(client);
                return new Op(id, kind, name, value, string.Empty, string.Empty, started, Stopwatch.GetTimestamp()) { Keys = keys };
            case OpKind.Delete:
                await client.SendAsync(RawClient.Frame(w => RequestWriter.WriteKeyCommand(w, QueryType.DeleteKey, default, RawClient.Key(keys[0]))));
                var deleted = await client.ReadInt64Async();
                return new Op(id, kind, name, string.Empty, string.Empty, Text(deleted), started, Stopwatch.GetTimestamp()) { Keys = keys };
            case OpKind.Get:
                await client.SendAsync(RawClient.Get(keys[0]));
                var read = Encoding.UTF8.GetString(await client.ReadBlobAsync());
                return new Op(id, kind, name, string.Empty, string.Empty, read, started, Stopwatch.GetTimestamp()) { Keys = keys };
            case OpKind.MultiSet:
                await client.SendAsync(WireRequest.MultiSet([.. keys.Select(RawClient.Key)], [.. keys.Select(_ => RawClient.Key(value))]).Encode());
                await SyncAsync(client);
                return new Op(id, kind, name, string.Empty, string.Empty, string.Empty, started, Stopwatch.GetTimestamp()) { Keys = keys, Values = [.. keys.Select(_ => value)] };
            case OpKind.MultiGet:
                await client.SendAsync(RawClient.Multi(QueryType.MultiGet, keys));
                var values = new List<string>();
                foreach (var _ in keys)
                {
                    values.Add(Encoding.UTF8.GetString(await client.ReadBlobAsync()));
                }

                return new Op(id, kind, name, string.Empty, string.Empty, string.Empty, started, Stopwatch.GetTimestamp()) { Keys = keys, Values = values };
            case OpKind.Check:
                await client.SendAsync(RawClient.Multi(QueryType.Check, keys));
                var ready = await client.ReadByteAsync() == Protocol.CheckReady;
                return new Op(id, kind, name, string.Empty, string.Empty, ready ? "1" : "0", started, Stopwatch.GetTimestamp()) { Keys = keys };
            default:
                await client.SendAsync(RawClient.Multi(QueryType.Wait, keys));
                var answer = await client.ReadByteAsync(TimeSpan.FromSeconds(30));
                Assert.Equal(Protocol.StopWaiting, answer);
                return new Op(id, kind, name, string.Empty, string.Empty, string.Empty, started, Stopwatch.GetTimestamp()) { Keys = keys };
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
