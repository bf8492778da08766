using System.Net;
using TcpStore.Codec;

namespace TcpStore.Server;

/// <summary>Settings of a <see cref="TcpStoreServer"/>. Defaults match PyTorch's libuv server limits.</summary>
public sealed class TcpStoreServerOptions
{
    /// <summary>Address to bind; null binds dual-stack <c>[::]</c>, falling back to <c>0.0.0.0</c>.</summary>
    public IPAddress? Host { get; set; }

    /// <summary>TCP port; 0 picks an ephemeral port (read it back from <see cref="TcpStoreServer.Port"/>).</summary>
    public int Port { get; set; } = Protocol.DefaultPort;

    /// <summary>An already-bound (possibly listening) socket file descriptor to adopt instead of binding.</summary>
    public int? ListenFd { get; set; }

    /// <summary>Longest key or queue name in bytes (default 8 KiB).</summary>
    public long MaxKeyLength { get; set; } = CodecLimits.Default.MaxKeyLength;

    /// <summary>Longest value in bytes (default 8 MiB).</summary>
    public long MaxValueLength { get; set; } = CodecLimits.Default.MaxValueLength;

    /// <summary>Most keys in one CHECK/WAIT/MULTI_GET/MULTI_SET (default 131,072).</summary>
    public long MaxKeysPerRequest { get; set; } = CodecLimits.Default.MaxKeysPerRequest;

    /// <summary>
    /// Most simultaneous connections; more are accepted and closed at once. Null (the default) takes what the
    /// process's open-file limit allows (<see cref="DefaultMaxConnections"/>).
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// The connection limit when none is set: the open-file soft limit less the descriptors the process already
    /// holds (the runtime maps its assemblies through descriptors) and <see cref="ReservedDescriptors"/> more, at
    /// least 1 (100,000 where the limit cannot be read). A default that fits the limit gives a default start nothing
    /// to warn about, and extra connections are refused cleanly instead of running the process out of descriptors.
    /// </summary>
    public static int DefaultMaxConnections
        => Linux.FdLimit.Current() is long soft
            ? (int)Math.Clamp(soft - (Linux.FdLimit.OpenCount() ?? 0) - ReservedDescriptors, 1, int.MaxValue)
            : 100_000;

    /// <summary>Descriptors the default connection limit leaves for growth besides connections (logs, runtime, the embedding process).</summary>
    public const int ReservedDescriptors = 64;

    /// <summary>
    /// How long <see cref="TcpStoreServer.StopAsync"/> lets replies already produced finish sending before it closes
    /// the connections (default 5 s; zero closes at once).
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most bytes one connection may hold: unread input plus unsent output (default 64 MiB).</summary>
    public long MaxBufferedBytesPerConnection { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Unsent output (bytes of replies the client has not read yet) at or above which the server stops
    /// reading a connection's requests until the output drains below half of it (default 1 MiB, capped
    /// by <see cref="MaxBufferedBytesPerConnection"/>). A client that pipelines without reading then
    /// costs the server about this much memory instead of the buffer limit.
    /// </summary>
    public long OutputHighWaterBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long output may stay pending with no byte taken by the peer before the connection is closed
    /// as <see cref="CloseReason.SendTimeout"/> (default 30 s); zero never closes. Only a peer that has
    /// stopped reading while the kernel's buffers are full is affected: an idle client has no output
    /// pending.
    /// </summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most warning lines per second for each close reason (the rest are counted, not logged).</summary>
    public int WarningsPerSecond { get; set; } = 10;

    /// <summary>How often to log the keys that connections wait for (while any do); zero disables it.</summary>
    public TimeSpan WaitReportInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The code table of connections that do not open with VALIDATE (PyTorch before 2.2). The default,
    /// <see cref="Codec.LegacyProtocol.Torch113"/>, serves 1.13 and 2.0 clients (and every 2.1 command
    /// but DELETE_KEY and APPEND); set <see cref="Codec.LegacyProtocol.Torch21"/> for 2.1 clients, or
    /// <see cref="Codec.LegacyProtocol.Off"/> to close every connection that does not validate.
    /// </summary>
    public LegacyProtocol LegacyProtocol { get; set; } = LegacyProtocol.Torch113;

    /// <summary>
    /// Whether closed connections (the connection object and its session) are reset and kept for the
    /// next accepted connection instead of made again for each one (default true; at most 1,024 kept,
    /// see docs/performance.md). False is an escape hatch, and the baseline of the accept benchmark.
    /// Connections served by a store <see cref="Engine"/> are never pooled.
    /// </summary>
    public bool PoolConnections { get; set; } = true;

    /// <summary>How connections are driven: .NET's socket engine, or our own epoll loops (Linux x86-64).</summary>
    public ServerTransport Transport { get; set; } = ServerTransport.Epoll;

    /// <summary>
    /// Epoll transport: how many event loops (threads) serve connections; 0 (the default) means
    /// <see cref="DefaultEventLoops"/>.
    /// </summary>
    public int EventLoops { get; set; }

    /// <summary>
    /// The store engine behind this server (for example the etcd engine of TcpStore.Etcd), or null
    /// (the default) for the in-memory store. The server does not own it: the caller disposes it.
    /// </summary>
    public TcpStore.Core.IStoreEngine? Engine { get; set; }

    /// <summary>
    /// One event loop per two processors the process may run on, at least one. The store shares its
    /// machine with the job that embeds it (and, in benchmarks, with the load): one loop per core
    /// then oversubscribes the cores, and on 2 cores it halved depth-1 throughput against one loop
    /// while adding a fifth to pipelined throughput (docs/performance.md, "Event loops").
    /// </summary>
    public static int DefaultEventLoops => Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>The codec limits these options describe.</summary>
    public CodecLimits CodecLimits => new(MaxKeyLength, MaxValueLength, MaxKeysPerRequest);

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        // Lengths end up as array sizes; 1 GiB keeps every sum of them inside int range.
        const long oneGiB = 1L << 30;
        Check(Port is >= 0 and <= 65535, "port must be 0-65535");
        Check(MaxKeyLength is > 0 and <= oneGiB, "max key length must be 1 byte to 1 GiB");
        Check(MaxValueLength is >= 0 and <= oneGiB, "max value length must be 0 to 1 GiB");
        Check(MaxKeysPerRequest >= 0 && MaxKeysPerRequest <= int.MaxValue, "max keys per request must be 0 to 2^31-1");
        Check(MaxConnections is null or > 0, "max connections must be positive");
        Check(DrainTimeout >= TimeSpan.Zero, "drain timeout must not be negative");
        Check(MaxBufferedBytesPerConnection is >= 4096 and <= 2 * oneGiB, "max buffered bytes must be 4 KiB to 2 GiB");
        Check(OutputHighWaterBytes is >= 4096 and <= 2 * oneGiB, "output high-water mark must be 4 KiB to 2 GiB");
        Check(SendTimeout >= TimeSpan.Zero && SendTimeout <= TimeSpan.FromDays(1), "send timeout must be 0 (never) to 1 day");
        Check(WarningsPerSecond >= 0, "warnings per second must not be negative");
        Check(WaitReportInterval >= TimeSpan.Zero, "wait report interval must not be negative");
        Check(Enum.IsDefined(LegacyProtocol), "legacy protocol must be Off, Torch113 or Torch21");
        Check(EventLoops is >= 0 and <= 1024, "event loops must be 0 (the default count) to 1024");
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }
}
