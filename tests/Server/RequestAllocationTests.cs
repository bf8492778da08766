using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary>
/// "0 B per request" as a test, not only a benchmark claim: a warm in-process server (both
/// transports, the whole loop: receive, parse, execute, reply, send) answers thousands of requests
/// of each kind, and the whole process must allocate next to nothing while it does. Allocation
/// counters, not time: <see cref="GC.GetTotalAllocatedBytes(bool)"/> over the process, minus what the
/// client thread itself allocated (<see cref="GC.GetAllocatedBytesForCurrentThread"/>). The client
/// sends pre-encoded bytes with blocking calls on a socket that never runs an async operation, so
/// .NET's socket engine has nothing to do for it. Runs alone (no other test allocates meanwhile).
/// </summary>
[Collection(RequestAllocationCollection.Name)]
public sealed class RequestAllocationTests
{
    private const int ValueSize = 64;

    // Requests measured per case, after as many again to warm the JIT (tiering) and the pools up.
    private const int Requests = 6_000;

    // Reads the server makes per case: half the requests one per write, half sixteen per write.
    private const int Reads = (Requests / 2) + (Requests / 2 / 16);

    // Allowed bytes per request: a request path that allocates any object (24 B at least) on one request
    // in 24 fails; the slack is for runtime housekeeping on other threads (timers, tiered compilation).
    private const double AllowedBytesPerRequest = 1.0;

    // .NET's own socket engine (the Sockets transport) allocates per readiness event it hands to the
    // thread pool: 24 B per read on average, measured, but in lumps (76-165 KB over the same 3,187
    // reads from run to run), so process counters cannot hold that transport to zero. Its request
    // path past the receive is the epoll transport's (Connection, Session), which is held to zero;
    // for Sockets the bound catches a buffer or more per read, not a single small object.
    private const int SocketEngineBytesPerRead = 64;

    // Kinds that allocate by design, bounded instead: a WAIT on a missing key registers a waiter (and
    // CANCEL_WAIT drops it), and a queue push keeps a copy of its value until it is popped.
    private const double AllowedBytesPerAllocatingRequest = 256;

    private static readonly HashSet<string> AllocatingKinds = ["WAIT (missing key) + CANCEL_WAIT", "QUEUE_PUSH + QUEUE_POP"];

    private static readonly byte[] Value = Enumerable.Range(0, ValueSize).Select(i => (byte)('a' + (i % 26))).ToArray();

    /// <summary>Kinds of request, each with the bytes of one (or one pair of) request and the reply size.</summary>
    public static TheoryData<ServerTransport, string> Cases() => CasesWhere(kind => !AllocatingKinds.Contains(kind), ServerTransport.Epoll);

    /// <summary>The same kinds on the .NET-sockets transport.</summary>
    public static TheoryData<ServerTransport, string> SocketsCases() => CasesWhere(kind => !AllocatingKinds.Contains(kind), ServerTransport.Sockets);

    /// <summary>The kinds that allocate by design.</summary>
    public static TheoryData<ServerTransport, string> AllocatingCases() => CasesWhere(AllocatingKinds.Contains, ServerTransport.Epoll, ServerTransport.Sockets);

    private static TheoryData<ServerTransport, string> CasesWhere(Func<string, bool> include, params ServerTransport[] transports)
    {
        var data = new TheoryData<ServerTransport, string>();
        foreach (var transport in transports)
        {
            foreach (var kind in Kinds.Keys.Where(include))
            {
                data.Add(transport, kind);
            }
        }

        return data;
    }

    private static readonly Dictionary<string, (byte[] Request, int ReplyBytes)> Kinds = new()
    {
        ["GET"] = (Frame(w => RequestWriter.WriteKeyCommand(w, QueryType.Get, default, Key("/k0"))), 8 + ValueSize),
        ["SET + CHECK"] = (Frame(w =>
        {
            RequestWriter.WriteKeyValueCommand(w, QueryType.Set, default, Key("/k0"), Value);
            WriteMulti(w, QueryType.Check, "/k0");
        }), 1),
        ["ADD"] = (Frame(w => RequestWriter.WriteAdd(w, default, Key("/n"), 3)), 8),
        ["CHECK (3 keys)"] = (Frame(w => WriteMulti(w, QueryType.Check, "/k0", "/k1", "/k2")), 1),
        ["WAIT (keys present)"] = (Frame(w => WriteMulti(w, QueryType.Wait, "/k0", "/k1")), 1),
        ["MULTI_GET (8 keys)"] = (Frame(w => WriteMulti(w, QueryType.MultiGet, Enumerable.Range(0, 8).Select(i => $"/k{i}").ToArray())), 8 * (8 + ValueSize)),
        ["MULTI_SET (8 pairs) + CHECK"] = (Frame(w =>
        {
            RequestWriter.WriteMultiHeader(w, QueryType.MultiSet, 8);
            for (var i = 0; i < 8; i++)
            {
                w.WriteBlob(Key($"/k{i}"));
                w.WriteBlob(Value);
            }

            WriteMulti(w, QueryType.Check, "/k7");
        }), 1),
        ["COMPARE_SET"] = (Frame(w => RequestWriter.WriteCompareSet(w, default, Key("/k1"), Value, Value)), 8 + ValueSize),
        ["PING"] = (Frame(w => RequestWriter.WritePing(w, 0x1234)), 4),
        ["GETNUMKEYS"] = (Frame(w => RequestWriter.WriteBare(w, QueryType.GetNumKeys)), 8),
        ["QUEUE_LEN"] = (Frame(w => RequestWriter.WriteKeyCommand(w, QueryType.QueueLength, default, Key("/q"))), 8),
        ["QUEUE_PUSH + QUEUE_POP"] = (Frame(w =>
        {
            RequestWriter.WriteKeyValueCommand(w, QueryType.QueuePush, default, Key("/q"), Value);
            RequestWriter.WriteKeyCommand(w, QueryType.QueuePop, default, Key("/q"));
        }), 8 + 8 + ValueSize),
        ["WAIT (missing key) + CANCEL_WAIT"] = (Frame(w =>
        {
            WriteMulti(w, QueryType.Wait, "/never");
            RequestWriter.WriteBare(w, QueryType.CancelWait);
        }), 1),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_warm_server_allocates_nothing_per_request(ServerTransport transport, string kind)
    {
        var (server, client) = await MeasureAsync(transport, kind);
        AssertAtMost(transport, kind, server, client, AllowedBytesPerRequest * Requests);
    }

    [Theory]
    [MemberData(nameof(SocketsCases))]
    public async Task The_sockets_transport_allocates_no_more_than_the_runtime_socket_engine_per_read(ServerTransport transport, string kind)
    {
        var (server, client) = await MeasureAsync(transport, kind);
        AssertAtMost(transport, kind, server, client, (AllowedBytesPerRequest * Requests) + (SocketEngineBytesPerRead * Reads));
    }

    [Theory]
    [MemberData(nameof(AllocatingCases))]
    public async Task Requests_that_allocate_by_design_allocate_a_bounded_amount(ServerTransport transport, string kind)
    {
        var (server, client) = await MeasureAsync(transport, kind);
        AssertAtMost(transport, kind, server, client, (AllowedBytesPerAllocatingRequest * Requests) + (transport == ServerTransport.Sockets ? SocketEngineBytesPerRead * Reads : 0));
    }

    private static void AssertAtMost(ServerTransport transport, string kind, long server, long client, double allowed) =>
        Assert.True(server <= allowed,
            $"{transport} {kind}: the server allocated {server:N0} B over {Requests:N0} requests in {Reads:N0} reads ({(double)server / Requests:0.00} B each, {allowed:N0} B allowed; client thread {client:N0} B)");

    // Bytes the process allocated while a warm server answered the case's requests, less the client thread's own.
    private static async Task<(long Server, long Client)> MeasureAsync(ServerTransport transport, string kind)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        var (request, replyBytes) = Kinds[kind];
        var setup = Frame(w =>
        {
            RequestWriter.WriteValidate(w);
            for (var i = 0; i < 8; i++)
            {
                RequestWriter.WriteKeyValueCommand(w, QueryType.Set, default, Key($"/k{i}"), Value);
            }

            RequestWriter.WriteKeyValueCommand(w, QueryType.Set, default, Key("/n"), "0"u8);
            WriteMulti(w, QueryType.Check, "/n");
        });

        // The client runs on a thread of its own, so its allocations can be told apart from the server's.
        var result = await RunOnDedicatedThread(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Connect(new IPEndPoint(IPAddress.Loopback, server.Port));
            socket.ReceiveTimeout = 10_000;
            var replies = new byte[Math.Max(replyBytes * 16, 64)];
            socket.Send(setup);
            ReceiveExactly(socket, replies, 1);

            // Sixteen requests per write as well as one: the pipelined path batches replies differently.
            var batch = Enumerable.Repeat(request, 16).SelectMany(b => b).ToArray();
            Exchange(socket, request, batch, replies, replyBytes);
            var processBefore = GC.GetTotalAllocatedBytes(precise: true);
            var clientBefore = GC.GetAllocatedBytesForCurrentThread();
            Exchange(socket, request, batch, replies, replyBytes);
            var clientAllocated = GC.GetAllocatedBytesForCurrentThread() - clientBefore;
            var processAllocated = GC.GetTotalAllocatedBytes(precise: true) - processBefore;
            return (processAllocated - clientAllocated, clientAllocated);
        });
        return result;
    }

    // Half the requests one per write (depth 1), half sixteen per write (pipelined).
    private static void Exchange(Socket socket, byte[] request, byte[] batch, byte[] replies, int replyBytes)
    {
        for (var i = 0; i < Requests / 2; i++)
        {
            socket.Send(request);
            ReceiveExactly(socket, replies, replyBytes);
        }

        for (var i = 0; i < Requests / 2 / 16; i++)
        {
            socket.Send(batch);
            ReceiveExactly(socket, replies, replyBytes * 16);
        }
    }

    private static void ReceiveExactly(Socket socket, byte[] buffer, int count)
    {
        for (var got = 0; got < count;)
        {
            var n = socket.Receive(buffer, got, count - got, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException($"server closed the connection after {got} of {count} reply bytes");
            }

            got += n;
        }
    }

    private static Task<T> RunOnDedicatedThread<T>(Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(body());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        { IsBackground = true, Name = "allocation-test-client" };
        thread.Start();
        return done.Task;
    }

    private static byte[] Key(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static void WriteMulti(IBufferWriter<byte> w, QueryType type, params string[] keys)
    {
        RequestWriter.WriteMultiHeader(w, type, keys.Length);
        foreach (var key in keys)
        {
            w.WriteBlob(Key(key));
        }
    }

    private static byte[] Frame(Action<ArrayBufferWriter<byte>> write) => RawClient.Frame(write);
}

/// <summary>Allocation tests run alone: any other test allocating meanwhile would count against the server.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RequestAllocationCollection
{
    public const string Name = "Request allocations";
}
