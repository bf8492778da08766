using System.Net;
using System.Net.Sockets;
using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>
/// Opens validated connections the way PyTorch's client does: resolve (IPv6 first, then IPv4), connect,
/// VALIDATE, optionally PING, and retry every failure with backoff until the store timeout runs out.
/// </summary>
internal sealed class Connector(TcpStoreClientOptions options)
{
    private static readonly uint PingNonce = unchecked((uint)Environment.ProcessId);

    public string Endpoint { get; } = FormatEndpoint(options.Host, options.Port);

    public async ValueTask<StoreConnection> OpenAsync(bool sync, CancellationToken cancellationToken)
    {
        var limit = options.ConnectTimeout ?? options.Timeout;
        var deadline = Deadline.After(limit);
        var backoff = new Backoff(options.InitialBackoff, options.MaxBackoff);
        Exception? failure = null;
        while (true)
        {
            try
            {
                return await TryOpenAsync(deadline, sync, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or IOException or TcpStoreConnectionException or TimeoutException
                                       || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // An attempt cut short by the deadline says less than the failure before it (say, "refused").
                if (failure is null || !deadline.HasExpired)
                {
                    failure = ex;
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
                throw new TcpStoreConnectionException(Endpoint, $"cannot connect within {FormatTimeout(limit)}: {Describe(failure)}", failure);
            }
        }
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

    internal static string FormatEndpoint(string host, int port)
        => host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]:{port}" : $"{host}:{port}";

    internal static string FormatTimeout(TimeSpan timeout)
        => timeout == Timeout.InfiniteTimeSpan ? "no time limit" : $"{timeout.TotalSeconds:0.###} s";

    private async ValueTask<StoreConnection> TryOpenAsync(Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(sync, cancellationToken).ConfigureAwait(false);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await ConnectAsync(socket, new IPEndPoint(address, options.Port), deadline, sync, cancellationToken).ConfigureAwait(false);
                var connection = new StoreConnection(socket, Endpoint);
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

    private async ValueTask<IPAddress[]> ResolveAsync(bool sync, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(options.Host.Trim('[', ']'), out var literal))
        {
            return [literal];
        }

        var all = sync
            ? Dns.GetHostAddresses(options.Host)
            : await Dns.GetHostAddressesAsync(options.Host, cancellationToken).ConfigureAwait(false);

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
