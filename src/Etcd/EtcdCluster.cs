using System.Diagnostics;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace TcpStore.Etcd;

/// <summary>
/// One gRPC channel to the etcd cluster, balanced round-robin over every endpoint (a member that
/// stops answering drops out of the rotation until it reconnects), and the retry policy of calls.
/// </summary>
internal sealed class EtcdCluster : IDisposable
{
    private readonly EtcdEngineOptions _options;
    private readonly GrpcChannel _channel;
    private readonly ServiceProvider _services;

    public EtcdCluster(EtcdEngineOptions options)
    {
        _options = options;
        var endpoints = options.Endpoints.Select(u => new BalancerAddress(u.Host, u.Port)).ToArray();
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => endpoints));
        _services = services.BuildServiceProvider();
        _channel = GrpcChannel.ForAddress("static:///etcd", new GrpcChannelOptions
        {
            Credentials = options.UsesTls ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure,
            ServiceProvider = _services,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            HttpHandler = new SocketsHttpHandler
            {
                // Notice a member that died without closing its sockets (power loss, partition).
                KeepAlivePingDelay = TimeSpan.FromSeconds(2),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(2),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                ConnectTimeout = TimeSpan.FromSeconds(1),
                EnableMultipleHttp2Connections = true,
                SslOptions = options.UsesTls ? EtcdTls.ClientOptions(options) : new(),
            },
            MaxReceiveMessageSize = 256 * 1024 * 1024,
        });
        Kv = new KV.KVClient(_channel);
        Watch = new Watch.WatchClient(_channel);
    }

    public KV.KVClient Kv { get; }

    public Watch.WatchClient Watch { get; }

    public TimeSpan RequestTimeout => _options.RequestTimeout;

    /// <summary>Whether a failed call may be retried (the cluster was unreachable, electing, or slow).</summary>
    public static bool IsTransient(RpcException error) =>
        error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted or StatusCode.Internal or StatusCode.Unknown
        || (error.StatusCode == StatusCode.Cancelled && IsConnectTimeout(error));

    // The handler's ConnectTimeout ends a call as Cancelled (caused by a TimeoutException), not as
    // Unavailable: a member slow to accept or to finish the TLS handshake (a loaded machine, a member
    // still starting), which the next attempt may well reach. Nothing of the request was sent. A
    // cancellation of the caller's own has no TimeoutException behind it and is not retried.
    private static bool IsConnectTimeout(RpcException error)
    {
        for (var cause = error.InnerException ?? error.Status.DebugException; cause is not null; cause = cause.InnerException)
        {
            if (cause is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Options of one attempt: its own deadline, so a dead member costs one attempt, not the request.</summary>
    public CallOptions Attempt(CancellationToken cancellationToken = default) =>
        new(deadline: DateTime.UtcNow + _options.AttemptTimeout, cancellationToken: cancellationToken);

    /// <summary>
    /// Runs a call whose repetition is harmless (a read, or a write of the same bytes), retrying
    /// transient failures until <see cref="EtcdEngineOptions.RequestTimeout"/>.
    /// </summary>
    /// <exception cref="EtcdUnavailableException">The cluster did not answer in time.</exception>
    public async Task<T> CallAsync<T>(Func<KV.KVClient, CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            try
            {
                return await call(Kv, Attempt(cancellationToken)).ConfigureAwait(false);
            }
            catch (RpcException error) when (IsTransient(error))
            {
                await BackOffAsync(started, delay, error, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(500).Ticks));
            }
        }
    }

    /// <summary>Waits before the next attempt, or throws when the request ran out of time.</summary>
    public async Task BackOffAsync(long started, TimeSpan delay, RpcException error, CancellationToken cancellationToken)
    {
        if (Stopwatch.GetElapsedTime(started) + delay > _options.RequestTimeout)
        {
            throw new EtcdUnavailableException($"etcd did not answer within {_options.RequestTimeout.TotalSeconds:0.#} s: {error.Status.Detail}", error);
        }

        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _channel.Dispose();
        _services.Dispose();
    }
}

/// <summary>The etcd cluster could not be reached (or could not commit) within the request timeout.</summary>
public sealed class EtcdUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EtcdUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public EtcdUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the last failure.</summary>
    public EtcdUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
