using System.Net.Sockets;

namespace TcpStore.Server;

/// <summary>
/// .NET's socket engine: one asynchronous accept loop on the thread pool; each connection runs its
/// own receive loop (<see cref="SocketConnection.RunAsync"/>).
/// </summary>
internal sealed class SocketsTransport : IServerTransport
{
    private readonly CancellationTokenSource _stopping = new();
    private ConnectionPool<SocketConnection>? _pool;
    private Task? _acceptLoop;

    public void Start(Socket listener, IConnectionAdmission admission)
    {
        ConnectionPool<SocketConnection>? pool = null;
        pool = new ConnectionPool<SocketConnection>(
            () => new SocketConnection(admission.Server, admission.Settings, admission.PoolConnections ? pool : null),
            ConnectionPool<SocketConnection>.MaxRetained,
            admission.PoolConnections);
        _pool = pool;
        _acceptLoop = Task.Run(() => AcceptLoopAsync(listener, admission), CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, IConnectionAdmission admission)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException)
            {
                // Out of descriptors (or any other accept failure): back off briefly instead of
                // spinning or ending the accept loop; the warning is rate-limited by the server.
                admission.AcceptFailed(ex is SocketException socketError ? socketError.SocketErrorCode.ToString() : ex.GetType().Name + ": " + ex.Message);
                await Task.Delay(10).ConfigureAwait(false);
                continue;
            }

            var verdict = admission.Check();
            if (verdict != Admission.Admit)
            {
                admission.Refuse(verdict, SafePeer, socket);
                socket.Dispose();
                continue;
            }

            try
            {
                socket.NoDelay = true;
                socket.Blocking = false;
            }
            catch (SocketException)
            {
                socket.Dispose();
                continue;
            }

            var connection = _pool!.Rent();
            connection.Open(socket);
            admission.Admit(connection);
            if (_stopping.IsCancellationRequested)
            {
                connection.Close(CloseReason.ServerStopping, "server stopping");
                break;
            }

            _ = connection.RunAsync();
        }
    }

    private static string SafePeer(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (SocketException)
        {
            return "?";
        }
    }
}
