using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TcpStore.Core;

namespace TcpStore.Server.Hosting;

/// <summary>
/// Runs a <see cref="TcpStoreServer"/> for the lifetime of a host: it listens before the host reports itself started
/// (so systemd's <c>READY=1</c> means connections are accepted), and on stop it stops accepting, lets replies in
/// flight finish sending (<see cref="TcpStoreServiceOptions.DrainSeconds"/>) and closes.
/// </summary>
public sealed class TcpStoreHostedService : IHostedService, IAsyncDisposable
{
    private readonly IOptions<TcpStoreServiceOptions> _options;
    private readonly ILoggerFactory _loggers;
    private readonly IStoreEngine? _engine;
    private TcpStoreServer? _server;

    /// <summary>Creates the service; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The server's settings.</param>
    /// <param name="loggers">Where the server logs.</param>
    /// <param name="engine">A store engine registered in the container (for example the etcd engine); null keeps keys in memory.</param>
    public TcpStoreHostedService(IOptions<TcpStoreServiceOptions> options, ILoggerFactory? loggers = null, IStoreEngine? engine = null)
    {
        _options = options;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _engine = engine;
    }

    /// <summary>The running server (null before <see cref="StartAsync"/>): its store, metrics and bound port.</summary>
    public TcpStoreServer? Server => _server;

    /// <summary>The bound address and port, once started.</summary>
    public IPEndPoint? LocalEndPoint => _server?.LocalEndPoint;

    /// <summary>
    /// Resolves the host, binds and starts accepting. Settings that cannot be used (out of range, a host name that
    /// does not resolve) throw <see cref="OptionsValidationException"/>; a port that cannot be bound throws
    /// <see cref="SocketException"/>.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = _options.Value;
        var address = await ResolveAsync(settings.Host, cancellationToken).ConfigureAwait(false);
        var serverOptions = settings.ToServerOptions(address);
        serverOptions.Engine = _engine;
        var server = new TcpStoreServer(serverOptions, _loggers.CreateLogger<TcpStoreServer>());
        try
        {
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _server = server;
        ServerLog.Listening(_loggers.CreateLogger<TcpStoreHostedService>(), server.LocalEndPoint);
    }

    /// <summary>Stops accepting, drains replies in flight (until the drain time or the host's shutdown timeout), closes.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            await server.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is { } server)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<IPAddress?> ResolveAsync(string? host, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(host))
        {
            return null;
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            return address;
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            if (addresses.Length > 0)
            {
                return addresses[0];
            }
        }
        catch (SocketException)
        {
            // Reported below, as a setting that cannot be used.
        }

        throw new OptionsValidationException(
            Options.DefaultName, typeof(TcpStoreServiceOptions), [$"Host: cannot resolve '{host}' (give an address or a resolvable name)"]);
    }
}
