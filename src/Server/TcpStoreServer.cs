using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Server.Linux;

namespace TcpStore.Server;

/// <summary>
/// An embeddable c10d TCPStore server: real PyTorch clients (2.2 and later) use it unchanged.
/// </summary>
/// <example>
/// <code>
/// await using var server = new TcpStoreServer(new TcpStoreServerOptions { Port = 0 });
/// await server.StartAsync();
/// Console.WriteLine(server.Port);
/// </code>
/// </example>
public sealed partial class TcpStoreServer : IAsyncDisposable, IConnectionAdmission
{
    private readonly TcpStoreServerOptions _options;
    private readonly ILogger _logger;
    private readonly RateLimitedWarnings _warnings;
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();
    private readonly int _maxConnections;
    private volatile bool _draining;
    private Socket? _listener;
    private IServerTransport? _transport;
    private WaitReporter? _waitReporter;
    private int _stopped;
    private long _lastAcceptWarning = long.MinValue / 2;
    private long _acceptFailures;
    private ConnectionSettings? _settings;
    private Timer? _sendTimeoutSweep;
    private int _stalledSends;

    /// <summary>Creates a server; nothing is bound until <see cref="StartAsync"/>.</summary>
    public TcpStoreServer(TcpStoreServerOptions? options = null, ILogger<TcpStoreServer>? logger = null, KeyValueStore? store = null)
    {
        _options = options ?? new TcpStoreServerOptions();
        _options.Validate();
        _maxConnections = _options.MaxConnections ?? TcpStoreServerOptions.DefaultMaxConnections;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _warnings = new RateLimitedWarnings(_logger, _options.WarningsPerSecond);
        Store = store ?? new KeyValueStore();
        StartInspection();
    }

    /// <summary>The engine requests go to, or null for the in-memory <see cref="Store"/>.</summary>
    internal IStoreEngine? Engine => _options.Engine;

    /// <summary>The store this server serves.</summary>
    public KeyValueStore Store { get; }

    /// <summary>Connection and close-reason counters.</summary>
    public ServerMetrics Metrics { get; } = new();

    /// <summary>A one-line description of the keys connections are blocked on, or null when nobody waits.</summary>
    public string? DescribeWaits() => WaitReporter.Describe(Store);

    /// <summary>The bound port (valid after <see cref="StartAsync"/>).</summary>
    public int Port => LocalEndPoint?.Port ?? 0;

    /// <summary>The bound address and port (valid after <see cref="StartAsync"/>).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>Binds (or adopts the listen fd), starts listening and accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_listener is not null)
        {
            throw new InvalidOperationException("the server is already started");
        }

        _settings = new ConnectionSettings(Store, _options);
        _listener = _options.ListenFd is int fd ? Adopt(fd) : Bind(_options.Host, _options.Port);
        // int.MaxValue asks for the kernel maximum (somaxconn), as PyTorch's listen(-1) does.
        _listener.Listen(int.MaxValue);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        WarnIfFdLimitLow();
        _transport = _options.Transport == ServerTransport.Epoll && EpollTransport.IsSupported
            ? new EpollTransport(_options.EventLoops > 0 ? _options.EventLoops : TcpStoreServerOptions.DefaultEventLoops)
            : new SocketsTransport();
        _transport.Start(_listener, this);
        if (_options.SendTimeout > TimeSpan.Zero)
        {
            // A stalled send is found within a quarter of the timeout (at most a second late).
            var period = TimeSpan.FromMilliseconds(Math.Clamp(_options.SendTimeout.TotalMilliseconds / 4, 10, 1000));
            _sendTimeoutSweep = new Timer(static state => ((TcpStoreServer)state!).SweepStalledSends(), this, period, period);
        }

        if (_options.WaitReportInterval > TimeSpan.Zero)
        {
            _waitReporter = new WaitReporter(Store, _logger, _options.WaitReportInterval);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting (connections that arrive from now on are closed at once), lets the replies already produced
    /// finish sending for up to <see cref="TcpStoreServerOptions.DrainTimeout"/> (or until
    /// <paramref name="cancellationToken"/> fires), then closes every connection and waits for the accept loop to end.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => StopCoreAsync(drain: true, cancellationToken);

    private async Task StopCoreAsync(bool drain, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _draining = true;
        if (drain)
        {
            await DrainAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_sendTimeoutSweep is not null)
        {
            await _sendTimeoutSweep.DisposeAsync().ConfigureAwait(false);
        }

        // The transport stops first: once its accept loop and threads are gone nothing else touches
        // the listener's or the connections' descriptors, and nothing is admitted any more, so
        // closing them below cannot race with it.
        if (_transport is not null)
        {
            await _transport.DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        _listener?.Dispose();
        foreach (var connection in _connections.Keys)
        {
            connection.Close(CloseReason.ServerStopping, "server stopping");
        }

        if (_waitReporter is not null)
        {
            await _waitReporter.DisposeAsync().ConfigureAwait(false);
        }

        ServerLog.Stopped(_logger, Metrics);
    }

    // The transports keep running while replies drain: a reply the kernel could not take yet goes
    // out as the client reads. Polled, because stopping is rare and this adds nothing to the I/O path.
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        if (_listener is null || _options.DrainTimeout <= TimeSpan.Zero)
        {
            return;
        }

        var deadline = Environment.TickCount64 + (long)_options.DrainTimeout.TotalMilliseconds;
        while (_connections.Keys.Any(static c => c.HasUnsentOutput))
        {
            if (Environment.TickCount64 >= deadline || cancellationToken.IsCancellationRequested)
            {
                ServerLog.DrainTimedOut(_logger, _options.DrainTimeout);
                return;
            }

            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Stops at once if <see cref="StopAsync(CancellationToken)"/> has not run (no drain), and releases everything.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopCoreAsync(drain: false, CancellationToken.None).ConfigureAwait(false);
        Metrics.Dispose();
        StopInspection();
    }

    internal void OnConnectionClosed(Connection connection, CloseReason reason, string peer, string detail)
    {
        _connections.TryRemove(connection, out _);
        RetireStats(connection);
        Metrics.OnClosed(reason, wasActive: true);
        switch (reason)
        {
            case CloseReason.ClientClosed:
            case CloseReason.ServerStopping:
                break;
            case CloseReason.SocketError:
                ServerLog.ConnectionLost(_logger, peer, detail);
                break;
            default:
                _warnings.Warn(reason, peer, detail);
                break;
        }
    }

    /// <summary>The open connections (for tests).</summary>
    internal ICollection<Connection> OpenConnections => _connections.Keys;

    /// <summary>Bytes of buffers all connections hold now (see <see cref="Connection.HeldBytes"/>).</summary>
    internal long HeldBytes()
    {
        long held = 0;
        foreach (var pair in _connections)
        {
            held += pair.Key.HeldBytes();
        }

        return held;
    }

    // A connection's send started (+1) or stopped (-1) waiting for its peer to read; the sweep
    // below only walks the connections while some send waits.
    internal void OnSendStalled(int delta) => Interlocked.Add(ref _stalledSends, delta);

    // Closes the connections whose output has been pending with no progress for the send timeout.
    private void SweepStalledSends()
    {
        if (Volatile.Read(ref _stalledSends) == 0)
        {
            return;
        }

        var now = Environment.TickCount64;
        var timeout = (long)_options.SendTimeout.TotalMilliseconds;
        foreach (var pair in _connections)
        {
            var connection = pair.Key;
            var generation = connection.Generation;
            var since = connection.StalledSince;
            if (since != 0 && now - since >= timeout)
            {
                var unsent = connection.UnsentBytes();
                connection.Close(generation, CloseReason.SendTimeout, $"no send progress for {(now - since) / 1000.0:0.#} s, {unsent} bytes unsent");
            }
        }
    }

    private static Socket Bind(IPAddress? host, int port)
    {
        if (host is not null)
        {
            var socket = new Socket(host.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                Prepare(socket);
                socket.Bind(new IPEndPoint(host, port));
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        if (Socket.OSSupportsIPv6)
        {
            var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                dual.DualMode = true;
                Prepare(dual);
                dual.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                return dual;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable or SocketError.ProtocolNotSupported)
            {
                dual.Dispose();
            }
        }

        var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Prepare(v4);
        v4.Bind(new IPEndPoint(IPAddress.Any, port));
        return v4;
    }

    private static void Prepare(Socket socket)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
    }

    private Socket Adopt(int fd)
    {
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        if (_options.Port != 0 && socket.LocalEndPoint is IPEndPoint bound && bound.Port != _options.Port)
        {
            ServerLog.ListenFdPortMismatch(_logger, fd, bound.Port, _options.Port);
        }

        return socket;
    }

    private void WarnIfFdLimitLow()
    {
        var limit = FdLimit.Current();
        if (_options.MaxConnections is int max && limit is long soft && soft < max + TcpStoreServerOptions.ReservedDescriptors)
        {
            ServerLog.DescriptorLimitLow(_logger, soft, max);
        }
    }

    /// <summary>The code table for pre-2.2 clients (see <see cref="TcpStoreServerOptions.LegacyProtocol"/>).</summary>
    internal LegacyProtocol LegacyProtocol => _options.LegacyProtocol;

    TcpStoreServer IConnectionAdmission.Server => this;

    ConnectionSettings IConnectionAdmission.Settings => _settings!;

    // An engine may complete a request after its connection closed, so its sessions are never reused.
    bool IConnectionAdmission.PoolConnections => _options.PoolConnections && _options.Engine is null;

    // Both transports: while replies drain at stop, new connections are closed as they arrive;
    // past --max-connections they are closed too.
    Admission IConnectionAdmission.Check() =>
        _draining ? Admission.Stopping : _connections.Count >= _maxConnections ? Admission.OverLimit : Admission.Admit;

    void IConnectionAdmission.Refuse<T>(Admission why, Func<T, string> peer, T state)
    {
        if (why == Admission.Stopping)
        {
            RefuseWhileStopping();
        }
        else
        {
            RefuseOverLimit(peer(state));
        }
    }

    void IConnectionAdmission.Admit(Connection connection) => Admit(connection);

    void IConnectionAdmission.AcceptFailed(string error) => WarnAcceptFailure(error);

    // Both transports: a connection accepted past --max-connections is counted, logged and closed.
    private void RefuseOverLimit(string peer)
    {
        Metrics.OnClosed(CloseReason.ConnectionLimit, wasActive: false);
        _warnings.Warn(CloseReason.ConnectionLimit, peer, $"limit {_maxConnections}");
    }

    // Both transports: while replies drain at stop, new connections are closed as they arrive.
    private void RefuseWhileStopping() => Metrics.OnClosed(CloseReason.ServerStopping, wasActive: false);

    // Both transports: an accepted connection is tracked (for stopping) and counted.
    private void Admit(Connection connection)
    {
        _connections.TryAdd(connection, 0);
        Metrics.OnAccepted();
    }

    // Out of descriptors (or kernel memory): log at most once a second, since this repeats every
    // few milliseconds for as long as the condition lasts.
    private void WarnAcceptFailure(string error)
    {
        _acceptFailures++;
        var now = Environment.TickCount64;
        if (now - _lastAcceptWarning >= 1000)
        {
            _lastAcceptWarning = now;
            ServerLog.AcceptFailed(_logger, error, _acceptFailures);
            _acceptFailures = 0;
        }
    }
}
