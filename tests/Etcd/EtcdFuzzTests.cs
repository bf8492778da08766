using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;
using TcpStore.Etcd;
using TcpStore.Fuzz.Harness;
using TcpStore.Server;
using TcpStore.Tests.Hostile;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// The fuzz corpus, and a bounded run of inputs mutated from it, through a front-end with the etcd engine next to an
/// in-memory server under the same (small) limits: every input gets the in-memory server's replies and close, the
/// front-end never hangs or fails, and bad input closes only its own connection (a bystander's keys and pending WAIT
/// are untouched).
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdFuzzTests(EtcdTestCluster cluster)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(1500);

    [Fact]
    public async Task Every_corpus_input_gets_the_in_memory_replies_from_an_etcd_front_end()
    {
        var files = CorpusFiles();
        Assert.True(files.Count >= 20, $"corpus has {files.Count} files");
        // Each input on a fresh store, as the fuzz harness runs it; pre-2.2 inputs go to servers that refuse them
        // on both sides (an etcd front-end speaks 2.2+ only).
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (file, token) =>
        {
            var bytes = await File.ReadAllBytesAsync(file, token);
            await using var engine = await ConnectAsync();
            await using var etcd = await HostileServer.StartAsync(o => Configure(o, engine));
            await using var memory = await TestServer.StartAsync(o => Configure(o, null));
            var (expected, actual) = await ExchangeBothAsync(memory.Port, etcd.Port, bytes, sentinel: 0xA1B2C3D4);
            Assert.True(expected == actual, $"{Path.GetFileName(file)}: in memory {expected}, etcd {actual}");
            await etcd.AssertHealthyAsync();
        });
    }

    [Fact]
    public async Task Inputs_mutated_from_the_corpus_close_only_their_own_connection_and_match_the_in_memory_server()
    {
        var seeds = CorpusFiles().Select(File.ReadAllBytes).Where(b => LegacyCodes.IsLegacyOpening(b) != true).ToList();
        await using var engine = await ConnectAsync();
        await using var etcd = await HostileServer.StartAsync(o => Configure(o, engine));
        await using var memory = await TestServer.StartAsync(o => Configure(o, null));

        // A bystander on the front-end: a key no input can name, and a WAIT that no input can release.
        var own = $"/bystander-{Guid.NewGuid():N}"[..40];
        var awaited = $"/awaited-{Guid.NewGuid():N}"[..40];
        using var bystander = await RawClient.ConnectAsync(etcd.Port);
        await bystander.SendAsync(RawClient.Set(own, "mine"));
        await bystander.SendAsync(RawClient.Multi(QueryType.Wait, awaited));
        using var twin = await RawClient.ConnectAsync(memory.Port); // the same state on the in-memory side
        await twin.SendAsync(RawClient.Set(own, "mine"));
        await twin.SendAsync(RawClient.Multi(QueryType.Wait, awaited));

        var random = new Random(12);
        var run = System.Diagnostics.Stopwatch.StartNew();
        var inputs = 0;
        var closed = 0;
        for (; inputs < 300 && run.Elapsed < TimeSpan.FromSeconds(20); inputs++)
        {
            var input = Mutate(seeds, random);
            var (expected, actual) = await ExchangeBothAsync(memory.Port, etcd.Port, input, sentinel: 0x8F8F0000u | (uint)inputs);
            Assert.True(expected == actual, $"input {inputs} ({Convert.ToHexString(input)}): in memory {expected}, etcd {actual}");
            closed += actual.Closed ? 1 : 0;
        }

        Assert.True(inputs >= 40, $"only {inputs} inputs in {run.Elapsed}");
        Assert.True(closed > 0 && closed < inputs, $"{closed} of {inputs} inputs were closed: the mutations do not reach both outcomes");

        Assert.True(await bystander.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(100)), "the bystander's WAIT was answered by someone else's input");
        // A request behind a pending WAIT is answered (the WAIT does not block its connection).
        await bystander.SendAsync(RawClient.Get(own));
        Assert.Equal("mine", System.Text.Encoding.UTF8.GetString(await bystander.ReadBlobAsync()));
        using (var setter = await RawClient.ConnectAsync(etcd.Port))
        {
            await setter.SendAsync(RawClient.Set(awaited, "now"));
        }

        Assert.Equal(Protocol.StopWaiting, await bystander.ReadByteAsync(TimeSpan.FromSeconds(10)));
        await etcd.AssertHealthyAsync(expectedActive: 1);
        Assert.DoesNotContain(etcd.Log.Lines, line => line.StartsWith("Error:", StringComparison.Ordinal) || line.StartsWith("Critical:", StringComparison.Ordinal));
        Assert.Contains(etcd.Log.Lines, line => line.StartsWith("Warning:", StringComparison.Ordinal)); // the protocol closes were logged
    }

    /// <summary>What one connection got: its replies (hex, LIST_KEYS sorted) and whether the server closed it.</summary>
    private sealed record Outcome(string Replies, bool Closed)
    {
        public override string ToString() => $"{(Closed ? "closed" : "open")} after [{Replies}]";
    }

    /// <summary>
    /// The replies in hex, with each LIST_KEYS reply's keys sorted: key order is unspecified (the in-memory store
    /// lists in hash order, etcd in byte order). The replies are walked by the shapes of the requests the input
    /// decodes to; where that walk fails the rest stays as it came.
    /// </summary>
    private static string Canonical(byte[] sent, List<byte> received)
    {
        var replies = received.ToArray();
        var shapes = new List<(QueryType Type, int Keys)>();
        var reader = new RequestReader(sent, FuzzLimits.Small);
        while (reader.TryRead(out var request) == ParseStatus.Complete)
        {
            shapes.Add((request.Type, request.Keys.Count));
        }

        var text = new System.Text.StringBuilder();
        var position = 0;
        foreach (var (type, keys) in shapes)
        {
            var start = position;
            if (!TryWalk(replies, ref position, type, keys, out var sortedKeys))
            {
                position = start;
                break;
            }

            text.Append(sortedKeys ?? Convert.ToHexString(replies.AsSpan(start, position - start)));
        }

        return text.Append(Convert.ToHexString(replies.AsSpan(position))).ToString();
    }

    private static bool TryWalk(byte[] replies, ref int position, QueryType type, int keys, out string? sortedKeys)
    {
        sortedKeys = null;
        switch (type)
        {
            case QueryType.Get or QueryType.CompareSet:
                return TryBlob(replies, ref position, out _);
            case QueryType.Add or QueryType.GetNumKeys or QueryType.DeleteKey or QueryType.QueueLength:
                return TryTake(replies, ref position, 8, out _);
            case QueryType.Check or QueryType.Wait:
                return TryTake(replies, ref position, 1, out _);
            case QueryType.Ping:
                return TryTake(replies, ref position, 4, out _);
            case QueryType.MultiGet:
                for (var i = 0; i < keys; i++)
                {
                    if (!TryBlob(replies, ref position, out _))
                    {
                        return false;
                    }
                }

                return true;
            case QueryType.QueuePop:
                return TryTake(replies, ref position, 8, out var length) && (System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(length) <= 0 || TryBlob(replies, ref position, out _));
            case QueryType.ListKeys:
                var start = position;
                if (!TryTake(replies, ref position, 8, out var countBytes))
                {
                    return false;
                }

                var count = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(countBytes);
                var blobs = new List<string>();
                for (long i = 0; i < count; i++)
                {
                    var blobStart = position;
                    if (!TryBlob(replies, ref position, out _))
                    {
                        return false;
                    }

                    blobs.Add(Convert.ToHexString(replies.AsSpan(blobStart, position - blobStart)));
                }

                blobs.Sort(StringComparer.Ordinal);
                sortedKeys = Convert.ToHexString(replies.AsSpan(start, 8)) + string.Concat(blobs);
                return true;
            case QueryType.CancelWait:
                return false; // one or two bytes, depending on a race: leave the rest as it came
            default:
                return true; // no reply (VALIDATE, SET, APPEND, MULTI_SET, QUEUE_PUSH)
        }
    }

    private static bool TryTake(byte[] replies, ref int position, int count, out ReadOnlySpan<byte> taken)
    {
        taken = default;
        if (replies.Length - position < count)
        {
            return false;
        }

        taken = replies.AsSpan(position, count);
        position += count;
        return true;
    }

    private static bool TryBlob(byte[] replies, ref int position, out ReadOnlySpan<byte> blob)
    {
        blob = default;
        var start = position;
        if (!TryTake(replies, ref position, 8, out var length))
        {
            return false;
        }

        var size = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(length);
        if (size < 0 || size > replies.Length - position)
        {
            position = start;
            return false;
        }

        blob = replies.AsSpan(position, (int)size);
        position += (int)size;
        return true;
    }

    private static void Configure(TcpStoreServerOptions options, EtcdEngine? engine)
    {
        options.Host = IPAddress.Loopback;
        options.Port = 0;
        options.Engine = engine;
        options.MaxKeyLength = FuzzLimits.Small.MaxKeyLength;
        options.MaxValueLength = FuzzLimits.Small.MaxValueLength;
        options.MaxKeysPerRequest = FuzzLimits.Small.MaxKeysPerRequest;
        options.LegacyProtocol = LegacyProtocol.Off;
    }

    private static async Task<(Outcome Expected, Outcome Actual)> ExchangeBothAsync(int memoryPort, int etcdPort, byte[] input, uint sentinel)
    {
        var both = await Task.WhenAll(ExchangeAsync(memoryPort, input, sentinel), ExchangeAsync(etcdPort, input, sentinel));
        return (both[0], both[1]);
    }

    /// <summary>
    /// Sends the input and a PING with a sentinel nonce, and reads until the sentinel comes back, the server closes,
    /// or nothing arrives for a while (a WAIT that is never released, or an unfinished frame that swallowed the PING).
    /// </summary>
    private static async Task<Outcome> ExchangeAsync(int port, byte[] input, uint sentinel)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var sent = input.Concat(Replies.Encode(WireRequest.Ping(sentinel))).ToArray();
        var echo = Replies.UInt32(sentinel);
        try
        {
            await socket.SendAsync(sent, SocketFlags.None);
        }
        catch (SocketException)
        {
            // Closed while sending: what was read before decides.
        }

        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            using var quiet = new CancellationTokenSource(Quiet);
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, quiet.Token);
            }
            catch (OperationCanceledException)
            {
                return new Outcome(Canonical(sent, received), Closed: false);
            }
            catch (SocketException)
            {
                n = 0;
            }

            if (n == 0)
            {
                return new Outcome(Canonical(sent, received), Closed: true);
            }

            received.AddRange(buffer.AsSpan(0, n));
            if (received.Count >= echo.Length && received.AsEnumerable().Skip(received.Count - echo.Length).SequenceEqual(echo))
            {
                return new Outcome(Canonical(sent, received), Closed: false);
            }
        }
    }

    /// <summary>One to four mutations of a corpus input (byte flips, interesting values, inserts, deletes, copies, splices).</summary>
    private static byte[] Mutate(List<byte[]> seeds, Random random)
    {
        var data = new List<byte>(seeds[random.Next(seeds.Count)]);
        var count = 1 + random.Next(4);
        for (var m = 0; m < count; m++)
        {
            // The VALIDATE opening survives most mutations, so most inputs reach the request parser.
            var from = data.Count > 5 && random.Next(10) > 0 ? 5 : 0;
            var at = from + random.Next(Math.Max(1, data.Count - from));
            switch (random.Next(6))
            {
                case 0 when at < data.Count:
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when at < data.Count:
                    data[at] = (byte)new[] { 0, 1, 0x7F, 0x80, 0xFF, 17, 18, 64 }[random.Next(8)];
                    break;
                case 2:
                    data.InsertRange(Math.Min(at, data.Count), Enumerable.Range(0, 1 + random.Next(8)).Select(_ => (byte)random.Next(256)));
                    break;
                case 3 when at < data.Count:
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + random.Next(16)));
                    break;
                case 4 when at < data.Count:
                    var length = Math.Min(data.Count - at, 1 + random.Next(32));
                    data.InsertRange(Math.Min(at + length, data.Count), data.GetRange(at, length));
                    break;
                default:
                    var other = seeds[random.Next(seeds.Count)];
                    var start = random.Next(other.Length);
                    data.InsertRange(Math.Min(at, data.Count), other.Skip(start).Take(1 + random.Next(64)));
                    break;
            }
        }

        return [.. data];
    }

    private static List<string> CorpusFiles()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "fuzz", "corpus");
            if (File.Exists(Path.Combine(dir.FullName, "TcpStore.sln")) && Directory.Exists(candidate))
            {
                return [.. Directory.EnumerateFiles(candidate, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];
            }
        }

        throw new DirectoryNotFoundException("fuzz/corpus not found above " + AppContext.BaseDirectory);
    }

    private async Task<EtcdEngine> ConnectAsync()
    {
        var options = new EtcdEngineOptions { Prefix = EtcdFrontEnd.NewPrefix() };
        foreach (var endpoint in cluster.Endpoints)
        {
            options.Endpoints.Add(endpoint);
        }

        return await EtcdEngine.ConnectAsync(options);
    }
}
