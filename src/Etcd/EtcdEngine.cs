using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>
/// A store engine that keeps every key in an etcd cluster, so the server holding the connections
/// (a front-end) keeps no state of its own: any number of front-ends can serve one job, and any one
/// of them, or any one etcd member, can be lost.
/// </summary>
/// <remarks>
/// Mapping (semantics identical to the in-memory engine): SET is a put; GET and MULTI_GET are
/// ranges read at one revision; ADD, APPEND, COMPARE_SET and DELETE_KEY are transactions
/// conditioned on the key's mod revision, retried on conflict; CHECK reads every key at one
/// revision; WAIT registers with this front-end's watch before that check and counts only writes
/// after the check's revision; queues are keys ordered by create revision, popped by a transaction
/// that deletes the head; GETNUMKEYS and LIST_KEYS range over the map's keys (queues not counted).
/// </remarks>
public sealed partial class EtcdEngine : IStoreEngine, IAsyncDisposable
{
    // How long a connection's own write waits for this front-end's watch to see it (only when the
    // connection has a WAIT pending), so its STOP_WAITING precedes the write's reply.
    private static readonly TimeSpan SelfWakeWait = TimeSpan.FromSeconds(2);

    private readonly EtcdCluster _cluster;
    private readonly EtcdKeys _keys;
    private readonly WatchHub _hub;
    private readonly ReadBatcher _reads;
    private readonly ILogger _logger;
    private readonly int _opsPerTransaction;
    private readonly ulong _frontEndId = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
    private long _nextConnection;
    private long _nextQueueItem;

    private EtcdEngine(EtcdEngineOptions options, ILogger logger)
    {
        _logger = logger;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxOperationsPerTransaction, 1, nameof(options));
        _opsPerTransaction = options.MaxOperationsPerTransaction;
        _cluster = new EtcdCluster(options);
        _keys = new EtcdKeys(options.Prefix);
        _hub = new WatchHub(_cluster, _keys, logger);
        _reads = new ReadBatcher(_cluster, _opsPerTransaction);
    }

    /// <summary>Number of distinct keys this front-end's connections wait for.</summary>
    public int AwaitedKeyCount => _hub.AwaitedKeyCount;

    /// <summary>Connects to the cluster (retrying until the request timeout) and starts the watch.</summary>
    /// <exception cref="EtcdUnavailableException">The cluster did not answer in time.</exception>
    public static async Task<EtcdEngine> ConnectAsync(EtcdEngineOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("no etcd endpoint given", nameof(options));
        }

        var engine = new EtcdEngine(options, logger ?? NullLogger.Instance);
        try
        {
            await engine._hub.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return engine;
    }

    /// <inheritdoc />
    public ValueTask<SessionError> ExecuteAsync(ref Request request, Session session, PooledBufferWriter reply)
    {
        ArgumentNullException.ThrowIfNull(session);
        var connection = session.EngineTag as EtcdConnection;
        if (connection is null)
        {
            connection = new EtcdConnection(Interlocked.Increment(ref _nextConnection));
            session.EngineTag = connection;
        }

        if (request.Type == QueryType.CancelWait)
        {
            // Purely local: a wake-up that won the race is already in the output, before this reply.
            CancelWait(connection);
            reply.WriteByte(Protocol.WaitCanceled);
            return ValueTask.FromResult(SessionError.None);
        }

        var copy = EtcdRequest.Copy(ref request);
        return new ValueTask<SessionError>(RunAsync(copy, session, connection, reply));
    }

    /// <inheritdoc />
    public void Retire(Session session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.EngineTag is not EtcdConnection connection)
        {
            return;
        }

        connection.Retired = true;
        CancelWait(connection);
        if (connection.Sequence > 0)
        {
            // Best effort: the marker only matters while this connection retries a write.
            var marker = _keys.Marker(_frontEndId, connection.Id);
            _ = _cluster.Kv.DeleteRangeAsync(new Etcdserverpb.DeleteRangeRequest { Key = marker }, _cluster.Attempt()).ResponseAsync
                .ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _hub.DisposeAsync().ConfigureAwait(false);
        _cluster.Dispose();
    }

    private async Task<SessionError> RunAsync(EtcdRequest request, Session session, EtcdConnection connection, PooledBufferWriter reply)
    {
        try
        {
            var (error, revision) = await DispatchAsync(request, session, connection, reply).ConfigureAwait(false);
            if (revision > 0 && connection.Wait is { Finished: false })
            {
                await _hub.WhenProcessedAsync(revision, SelfWakeWait).ConfigureAwait(false);
            }

            return error;
        }
        catch (EtcdUnavailableException error)
        {
            _logger.LogWarning("{Command} failed, closing the connection: {Error}", request.Type, error.Message);
            return SessionFault.EngineUnavailable;
        }
        catch (Grpc.Core.RpcException error)
        {
            _logger.LogWarning("{Command} failed, closing the connection: {Error}", request.Type, error.Status.Detail);
            return SessionFault.EngineUnavailable;
        }
    }

    // The error, and the revision of the write it made (0 when it wrote nothing).
    private Task<(SessionError Error, long Revision)> DispatchAsync(EtcdRequest request, Session session, EtcdConnection connection, PooledBufferWriter reply) =>
        request.Type switch
        {
            QueryType.Set => SetAsync(request),
            QueryType.MultiSet => MultiSetAsync(request),
            QueryType.Get => GetAsync(request, reply),
            QueryType.MultiGet => MultiGetAsync(request, reply),
            QueryType.Add => AddAsync(request, reply),
            QueryType.Append or QueryType.CompareSet or QueryType.DeleteKey => UpdateAsync(request, connection, reply),
            QueryType.Check => CheckAsync(request, reply),
            QueryType.Wait => WaitAsync(request, session, connection, reply),
            QueryType.GetNumKeys => CountKeysAsync(reply),
            QueryType.ListKeys => ListKeysAsync(reply),
            QueryType.QueuePush => QueuePushAsync(request),
            QueryType.QueuePop => QueuePopAsync(request, connection, reply),
            QueryType.QueueLength => QueueLengthAsync(request, reply),
            _ => Task.FromResult<(SessionError, long)>((ProtocolError.UnknownCommand, 0L)),
        };

    private void CancelWait(EtcdConnection connection)
    {
        if (connection.Wait is { } wait)
        {
            _hub.Cancel(wait);
            connection.Wait = null;
        }
    }
}
