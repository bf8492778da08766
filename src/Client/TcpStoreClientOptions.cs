using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>How a <see cref="TcpStoreClient"/> finds, connects to and talks to a server.</summary>
public sealed class TcpStoreClientOptions
{
    /// <summary>Server host name or address literal (IPv4 or IPv6). Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Server TCP port. Default 29500, as in PyTorch.</summary>
    public int Port { get; set; } = Protocol.DefaultPort;

    /// <summary>
    /// Several servers that serve <i>one</i> store, as <c>host:port</c> (<c>[v6-address]:port</c>; a bare host takes
    /// <see cref="Port"/>): the front-ends of an etcd-backed TcpStore. When not empty, it replaces
    /// <see cref="Host"/> and <see cref="Port"/>. The client connects to the first that answers (each given at most
    /// 5 s per round, then the next, with the usual backoff between rounds); when a connection breaks it moves on to
    /// the next one and, with <see cref="RetryAfterConnectionLoss"/>, repeats what is safe to repeat. Never list
    /// independent servers here: they hold different keys.
    /// </summary>
    public IList<string> Endpoints { get; set; } = [];

    /// <summary>
    /// Whether a request whose connection broke (closed, reset) is sent again on a new connection, after VALIDATE,
    /// when that is safe: GET, CHECK, MULTI_GET, LIST_KEYS, GETNUMKEYS, QUEUE_LEN, PING and a pending WAIT (re-issued
    /// for the time it has left) are repeated; so are SET, MULTI_SET and DELETE_KEY, which have the same effect
    /// twice (writes without a reply are kept until a later reply confirms them, and sent again first). ADD, APPEND,
    /// COMPARE_SET, QUEUE_PUSH and QUEUE_POP are not: they fail with a
    /// <see cref="TcpStoreOutcomeUnknownException"/>. A reply that does not come in time is never retried.
    /// Default <see langword="null"/>: on when <see cref="Endpoints"/> lists more than one server, off otherwise
    /// (then every failure is reported, as PyTorch's client does).
    /// </summary>
    public bool? RetryAfterConnectionLoss { get; set; }

    /// <summary>
    /// The store timeout, as PyTorch's <c>timeout</c>: the deadline for connecting (including retries),
    /// the default limit of <c>Wait</c>, <c>Get</c>, <c>MultiGet</c> and blocking <c>QueuePop</c>, and the
    /// longest the client waits for any reply. Default 300 s. <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>
    /// means no limit.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// Deadline for opening a connection, retries included, when it should differ from <see cref="Timeout"/>
    /// (for example a short wait timeout but a patient connect). Default <see langword="null"/>: use <see cref="Timeout"/>.
    /// </summary>
    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary>
    /// Longest wait for the reply to a request once it is sent (PyTorch waits forever). A server that takes longer is
    /// treated as stuck: the connection is dropped and a <see cref="TcpStoreTimeoutException"/> raised. Default
    /// <see langword="null"/>: the store <see cref="Timeout"/>, but at least 30 s, so that a short wait timeout does not turn a
    /// briefly stalled server (PyTorch's server stalls on reverse DNS lookups) into errors.
    /// </summary>
    public TimeSpan? ReplyTimeout { get; set; }

    /// <summary>
    /// Send PING after VALIDATE when connecting, and check the echo, as PyTorch 2.5+ clients do.
    /// Turn it off for 2.2–2.4 servers, which close the connection on PING. Default <see langword="true"/>.
    /// </summary>
    public bool UsePing { get; set; } = true;

    /// <summary>
    /// The job's world size. When set, the client joins the worker counter as a PyTorch worker does:
    /// it adds 1 to the unprefixed key <c>init/</c> once, after its first connection.
    /// </summary>
    public int? WorldSize { get; set; }

    /// <summary>
    /// With <see cref="WorldSize"/> set: block in <c>Connect</c> until <c>init/</c> reaches the world size
    /// (every worker joined), within <see cref="Timeout"/>. PyTorch only does this in the process that hosts the
    /// server; a plain worker does not wait. Default <see langword="false"/>.
    /// </summary>
    public bool WaitForWorkers { get; set; }

    /// <summary>
    /// Prefix added to every user key on the wire. PyTorch uses <c>/</c> (the default); an empty prefix gives
    /// raw access to the server's keys, including PyTorch's internal ones such as <c>init/</c>.
    /// <c>ListKeys</c> returns only keys that start with the prefix, with the prefix removed.
    /// </summary>
    public string KeyPrefix { get; set; } = "/";

    /// <summary>First delay between connection attempts; later delays grow by 1.5x with ±50 % jitter. Default 500 ms.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest delay between connection attempts. Default 60 s.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Most idle connections kept for waiting operations (<c>Wait</c>, <c>Get</c>, <c>MultiGet</c>, blocking
    /// <c>QueuePop</c>); more concurrent waits open more connections, and the extra ones are closed when they finish.
    /// Default 4.
    /// </summary>
    public int MaxIdleWaitConnections { get; set; } = 4;

    internal TimeSpan EffectiveReplyTimeout => ReplyTimeout
        ?? (Timeout == System.Threading.Timeout.InfiniteTimeSpan || Timeout > MinimumDefaultReplyTimeout ? Timeout : MinimumDefaultReplyTimeout);

    private static TimeSpan MinimumDefaultReplyTimeout => TimeSpan.FromSeconds(30);

    /// <summary>The servers to try, in order (parsed from <see cref="Endpoints"/>, else <see cref="Host"/> and <see cref="Port"/>).</summary>
    internal IReadOnlyList<ServerEndpoint> Targets { get; private set; } = [];

    internal bool Retries => RetryAfterConnectionLoss ?? Targets.Count > 1;

    internal TcpStoreClientOptions Validated()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Port, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        ArgumentNullException.ThrowIfNull(Endpoints);
        IReadOnlyList<ServerEndpoint> targets;
        if (Endpoints.Count == 0)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(Host);
            targets = [new ServerEndpoint(Host, Port)];
        }
        else
        {
            targets = [.. Endpoints.Select(e => ServerEndpoint.Parse(e, Port))];
        }

        if (Timeout < TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), "must be positive or infinite");
        }

        if (ConnectTimeout is { } connect && connect < TimeSpan.Zero && connect != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), "must be positive or infinite");
        }

        if (ReplyTimeout is { } reply && reply < TimeSpan.Zero && reply != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ReplyTimeout), "must be positive or infinite");
        }

        if (WorldSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WorldSize), "must be at least 1");
        }

        ArgumentNullException.ThrowIfNull(KeyPrefix);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxIdleWaitConnections);
        var copy = (TcpStoreClientOptions)MemberwiseClone();
        copy.Endpoints = [.. Endpoints];
        copy.Targets = targets;
        return copy;
    }
}
