using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>
/// Opens validated connections the way PyTorch's client does: resolve (IPv6 first, then IPv4), connect,
/// VALIDATE, optionally PING, and retry every failure with backoff until the store timeout runs out.
/// With several endpoints each round tries them all, starting with the preferred one (the last that
/// answered, or the one after an endpoint whose connection broke), before backing off.
/// </summary>
internal sealed class Connector(TcpStoreClientOptions options)
{
    // With several endpoints, one that swallows connection attempts (a dead machine) must not use up the whole
    // connect deadline before the others are tried.
    private static readonly TimeSpan PerEndpointAttemptLimit = TimeSpan.FromSeconds(5);
    private static readonly uint PingNonce = unchecked((uint)Environment.ProcessId);

    private readonly IReadOnlyList<ServerEndpoint> _targets = options.Targets;
    private int _preferred;

    /// <summary>The endpoint tried first: the last one connected to.</summary>
    public string Endpoint => _targets[Volatile.Read(ref _preferred)].Display;

    /// <summary>Every endpoint, as <c>host:port</c>, in the order given.</summary>
    public IReadOnlyList<string> Endpoints => [.. _targets.Select(t => t.Display)];

    private string AllEndpoints => string.Join(",", _targets.Select(t => t.Display));

    /// <summary>
    /// A connection to <paramref name="endpoint"/> broke: start the next round with the endpoint after it
    /// (unless another caller already moved on).
    /// </summary>
    public void ReportBroken(string endpoint)
    {
        var current = Volatile.Read(ref _preferred);
        if (_targets.Count > 1 && _targets[current].Display == endpoint)
        {
            Interlocked.CompareExchange(ref _preferred, (current + 1) % _targets.Count, current);
        }
    }

    public async ValueTask<StoreConnection> OpenAsync(bool sync, CancellationToken cancellationToken)
    {
        var limit = options.ConnectTimeout ?? options.Timeout;
        var deadline = Deadline.After(limit);
        var backoff = new Backoff(options.InitialBackoff, options.MaxBackoff);
        var failures = new Exception?[_targets.Count];
        while (true)
        {
            var first = Volatile.Read(ref _preferred);
            for (var i = 0; i < _targets.Count; i++)
            {
                var index = (first + i) % _targets.Count;
                var attempt = _targets.Count > 1 && (deadline.IsNever || deadline.Remaining > PerEndpointAttemptLimit)
                    ? Deadline.After(PerEndpointAttemptLimit)
                    : deadline;
                try
                {
                    var connection = await TryOpenAsync(_targets[index], attempt, sync, cancellationToken).ConfigureAwait(false);
                    Volatile.Write(ref _preferred, index);
                    return connection;
                }
                catch (Exception ex) when (ex is SocketException or IOException or TcpStoreConnectionException or TimeoutException
                                           || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    // An attempt cut short by the deadline says less than the failure before it (say, "refused").
                    if (failures[index] is null || !deadline.HasExpired)
                    {
                        failures[index] = ex;
                    }
                }

                if (deadline.HasExpired)
                {
                    break;
                }
            }

            var delay = backoff.Next();
            var remaining = deadline.Remaining;
            if (remaining != Timeout.InfiniteTimeSpan && remaining < delay)
            {
                delay = remaining;
            }

            if (delay > TimeSpan.Zero)
            {
                if (sync)
                {
                    if (cancellationToken.WaitHandle.WaitOne(delay))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                }
                else
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
            }

            if (deadline.HasExpired)
            {
                throw ConnectFailed(limit, failures);
            }
        }
    }

    private TcpStoreConnectionException ConnectFailed(TimeSpan limit, Exception?[] failures)
    {
        if (_targets.Count == 1)
        {
            return new TcpStoreConnectionException(Endpoint, $"cannot connect within {FormatTimeout(limit)}: {Describe(failures[0]!)}", failures[0]);
        }

        var each = string.Join("; ", _targets.Select((t, i) => $"{t.Display}: {(failures[i] is { } f ? Describe(f) : "not tried")}"));
        return new TcpStoreConnectionException(AllEndpoints, $"cannot connect to any endpoint within {FormatTimeout(limit)}: {each}", failures.FirstOrDefault(f => f is not null));
    }

    /// <summary>Words for a failure, naming the usual socket errors the way people know them.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => "connection reset by peer",
        SocketException { SocketErrorCode: SocketError.ConnectionAborted } => "connection aborted",
        SocketException { SocketErrorCode: SocketError.Shutdown or SocketError.NotConnected } => "connection closed",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "timed out",
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } s => $"cannot resolve host ({s.Message})",
        SocketException s => $"{s.SocketErrorCode}: {s.Message}",
        TcpStoreConnectionException c => c.Message,
        TimeoutException or OperationCanceledException => "timed out",
        IOException { InnerException: SocketException inner } => Describe(inner),
        _ => ex.Message,
    };

    internal static string FormatTimeout(TimeSpan timeout)
        => timeout == Timeout.InfiniteTimeSpan ? "no time limit" : $"{timeout.TotalSeconds:0.###} s";

    private async ValueTask<StoreConnection> TryOpenAsync(ServerEndpoint target, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(target.Host, sync, cancellationToken).ConfigureAwait(false);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await ConnectAsync(socket, new IPEndPoint(address, target.Port), deadline, sync, cancellationToken).ConfigureAwait(false);
                var connection = new StoreConnection(socket, target.Display);
                try
                {
                    await HandshakeAsync(connection, deadline, sync, cancellationToken).ConfigureAwait(false);
                    return connection;
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private static async ValueTask<IPAddress[]> ResolveAsync(string host, bool sync, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return [literal];
        }

        var all = sync
            ? Dns.GetHostAddresses(host)
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);

        // PyTorch tries IPv6 results first, then IPv4.
        return [.. all.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6),
                .. all.Where(a => a.AddressFamily == AddressFamily.InterNetwork)];
    }

    private static async ValueTask ConnectAsync(Socket socket, IPEndPoint endPoint, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        // Connecting is rare, so the synchronous path blocks on the asynchronous connect to get a deadline.
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!deadline.IsNever)
        {
            timer.CancelAfter(deadline.Remaining);
        }

        try
        {
            if (sync)
            {
                socket.ConnectAsync(endPoint, timer.Token).AsTask().GetAwaiter().GetResult();
            }
            else
            {
                await socket.ConnectAsync(endPoint, timer.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }

    private async ValueTask HandshakeAsync(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        using var request = new PooledBufferWriter();
        RequestWriter.WriteValidate(request);
        await connection.SendAsync(request.WrittenMemory, deadline, sync, cancellationToken).ConfigureAwait(false);
        if (!options.UsePing)
        {
            return;
        }

        request.Clear();
        RequestWriter.WritePing(request, PingNonce);
        await connection.SendAsync(request.WrittenMemory, deadline, sync, cancellationToken).ConfigureAwait(false);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!deadline.IsNever)
        {
            timer.CancelAfter(deadline.Remaining);
        }

        var echo = await connection.ReadUInt32Async(deadline, sync, timer.Token).ConfigureAwait(false);
        if (echo != PingNonce)
        {
            throw new TcpStoreConnectionException(connection.Endpoint, $"PING echo {echo} does not match the nonce {PingNonce}", null);
        }
    }
}
