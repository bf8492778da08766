using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using TcpStore.Codec;

namespace TcpStore.Client;

/// <summary>
/// A client of a c10d TCPStore server (PyTorch's, or TcpStore's own) that behaves like PyTorch's client on the
/// wire, so .NET and Python processes can share one store.
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> One instance may be shared by any number of callers. Requests that never block on the
/// server (SET, ADD, CHECK, ...) share one <i>primary</i> connection and are serialised on it, as PyTorch serialises
/// a store object's requests. Operations that wait for keys (<c>Wait</c>, <c>Get</c>, <c>MultiGet</c>, blocking
/// <c>QueuePop</c>) run on connections of their own, taken from a small pool of idle ones (or opened when none is
/// idle), so a long wait never holds up other callers. At most
/// <see cref="TcpStoreClientOptions.MaxIdleWaitConnections"/> idle wait connections are kept.</para>
/// <para><b>Failures.</b> A connection that fails during a request is dropped and the failure is reported as a
/// <see cref="TcpStoreConnectionException"/> (or <see cref="TcpStoreTimeoutException"/> when no reply came in time);
/// by default requests are not retried, as in PyTorch's client. The next call connects again, with PyTorch's
/// backoff, under the store timeout. A connection that the server closed while it was idle (for example a server
/// restart) is noticed before use and replaced silently, unless the last request on it had no reply (SET, APPEND,
/// MULTI_SET, QUEUE_PUSH): then the server may have closed it to reject that request, so the next call reports it.</para>
/// <para><b>Failover.</b> With several <see cref="TcpStoreClientOptions.Endpoints"/> (front-ends of one etcd-backed
/// store) the client connects to the first that answers and, when a connection breaks, moves to the next one and
/// repeats what is safe to repeat (see <see cref="TcpStoreClientOptions.RetryAfterConnectionLoss"/>): reads, a pending
/// wait (for the time it has left), SET, MULTI_SET and DELETE_KEY. A request that could be applied twice (ADD, APPEND,
/// COMPARE_SET, queue push and pop) fails with a <see cref="TcpStoreOutcomeUnknownException"/> instead.</para>
/// <para><b>Waits.</b> A wait that times out sends CANCEL_WAIT. If the server's STOP_WAITING crossed the cancel, the
/// keys exist and the wait succeeds (PyTorch reports a timeout in that case). On a real timeout the client asks which
/// keys are still missing and names them in the <see cref="TcpStoreTimeoutException"/>.</para>
/// </remarks>
public sealed partial class TcpStoreClient : Store
{
    private const int MaxKeysCheckedOnTimeout = 256;
    private static readonly byte[] WorkerCounterKey = "init/"u8.ToArray();
    private static readonly uint PingNonce = unchecked((uint)Environment.ProcessId);

    private readonly TcpStoreClientOptions _options;
    private readonly Connector _connector;
    private readonly byte[] _prefix;
    private readonly SemaphoreSlim _primaryLock = new(1, 1);
    private readonly ConcurrentStack<StoreConnection> _idleWaiters = new();
    private readonly ConcurrentDictionary<StoreConnection, byte> _open = new();
    private StoreConnection? _primary;
    private UnconfirmedWrites? _orphaned;
    private int _disposed;

    private delegate ValueTask<T> ReplyReader<T>(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken);

    private TcpStoreClient(TcpStoreClientOptions options)
    {
        _options = options;
        _connector = new Connector(options);
        _prefix = Encoding.UTF8.GetBytes(options.KeyPrefix);
    }

    /// <summary>The server, as <c>host:port</c>: with several <see cref="TcpStoreClientOptions.Endpoints"/>, the one connected to last.</summary>
    public string Endpoint => _connector.Endpoint;

    /// <summary>Every server the client may connect to, as <c>host:port</c>, in the order given.</summary>
    public IReadOnlyList<string> Endpoints => _connector.Endpoints;

    /// <summary>The store timeout (see <see cref="TcpStoreClientOptions.Timeout"/>).</summary>
    public TimeSpan Timeout => _options.Timeout;

    /// <summary>
    /// Connects (retrying with backoff until <see cref="TcpStoreClientOptions.Timeout"/>), validates the connection,
    /// and joins the worker counter when <see cref="TcpStoreClientOptions.WorldSize"/> is set.
    /// </summary>
    /// <exception cref="TcpStoreConnectionException">The server could not be reached in time.</exception>
    public static TcpStoreClient Connect(TcpStoreClientOptions options)
        => SyncOverValueTask.Result(ConnectCoreAsync(options, sync: true, CancellationToken.None));

    /// <inheritdoc cref="Connect(TcpStoreClientOptions)"/>
    public static ValueTask<TcpStoreClient> ConnectAsync(TcpStoreClientOptions options, CancellationToken cancellationToken = default)
        => ConnectCoreAsync(options, sync: false, cancellationToken);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Closing every socket also ends waits in progress on other threads (they see ObjectDisposedException).
        foreach (var connection in _open.Keys)
        {
            connection.Dispose();
        }

        _open.Clear();
        _idleWaiters.Clear();
        base.Dispose(disposing);
    }

    private static async ValueTask<TcpStoreClient> ConnectCoreAsync(TcpStoreClientOptions options, bool sync, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var client = new TcpStoreClient(options.Validated());
        try
        {
            var connection = await client.AcquirePrimaryAsync(sync, cancellationToken).ConfigureAwait(false);
            client.ReleasePrimary(connection, broken: false);
            if (options.WorldSize is int worldSize)
            {
                await client.JoinWorkersAsync(worldSize, sync, cancellationToken).ConfigureAwait(false);
            }

            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private async ValueTask JoinWorkersAsync(int worldSize, bool sync, CancellationToken cancellationToken)
    {
        var deadline = Deadline.After(_options.Timeout);
        var joined = await RunAsync(EncodeAdd([], WorkerCounterKey, 1), "ADD", ReadInt64, sync, cancellationToken).ConfigureAwait(false);
        if (!_options.WaitForWorkers)
        {
            return;
        }

        while (joined < worldSize)
        {
            if (deadline.HasExpired)
            {
                throw new TcpStoreTimeoutException(
                    $"timed out after {Connector.FormatTimeout(_options.Timeout)} waiting for workers: {joined}/{worldSize} joined");
            }

            if (sync)
            {
                Thread.Sleep(10);
            }
            else
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }

            var value = await WaitThenAsync(
                [WorkerCounterKey], EncodeMulti(QueryType.Wait, [], [WorkerCounterKey]), _options.Timeout,
                EncodeKey(QueryType.Get, [], WorkerCounterKey), "GET", ReadBlob, sync, cancellationToken).ConfigureAwait(false);
            joined = long.TryParse(Encoding.ASCII.GetString(value), out var parsed) ? parsed : 0;
        }
    }

    /// <summary>
    /// Sends one request on the primary connection and reads its reply (<paramref name="reply"/> null: no reply).
    /// With retries on, a connection that breaks is replaced (next endpoint first) and the request sent again when
    /// it is repeatable; a request that is not gets a <see cref="TcpStoreOutcomeUnknownException"/>.
    /// </summary>
    private async ValueTask<T> RunAsync<T>(PooledBufferWriter request, string what, ReplyReader<T>? reply, bool sync, CancellationToken cancellationToken)
    {
        var requestKept = false;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var retriesLeft = RetryBudget;
            while (true)
            {
                StoreConnection? connection = null;
                var broken = true;
                var sent = false;
                string? previous = null;
                try
                {
                    connection = await AcquirePrimaryAsync(sync, cancellationToken).ConfigureAwait(false);
                    if (requestKept)
                    {
                        // A write without a reply that was sent, kept, then orphaned when its connection broke: acquiring
                        // the new connection sent it again.
                        broken = false;
                        return default!;
                    }

                    previous = connection.UnconfirmedRequest;
                    var deadline = Deadline.After(_options.EffectiveReplyTimeout);
                    using var timer = sync ? null : ReplyTimer(deadline, cancellationToken);
                    var token = timer?.Token ?? cancellationToken;
                    sent = true;
                    await connection.SendAsync(request.WrittenMemory, deadline, sync, token).ConfigureAwait(false);
                    var result = default(T)!;
                    if (reply is null)
                    {
                        connection.UnconfirmedRequest = what;
                        if (_options.Retries)
                        {
                            (connection.Unconfirmed ??= new()).Add(what, request);
                            requestKept = true;
                            if (connection.Unconfirmed.IsFull)
                            {
                                await ConfirmOnAsync(connection, deadline, sync, token).ConfigureAwait(false);
                            }
                        }
                    }
                    else
                    {
                        result = await reply(connection, deadline, sync, token).ConfigureAwait(false);
                        Confirmed(connection);
                    }

                    broken = false;
                    return result;
                }
                catch (Exception ex) when (retriesLeft > 0 && IsConnectionLoss(ex, cancellationToken))
                {
                    retriesLeft--;
                    AfterConnectionLoss(connection, sent && !RetryPolicy.IsRepeatable(what), what, requestKept, ex);
                }
                catch (Exception ex)
                {
                    throw Translate(ex, previous is null ? what : $"{what} (sent after {previous}, which has no reply; the server may have rejected that)", connection?.Endpoint, cancellationToken);
                }
                finally
                {
                    if (connection is not null)
                    {
                        ReleasePrimary(connection, broken);
                    }
                }
            }
        }
        finally
        {
            if (!requestKept)
            {
                request.Dispose();
            }
        }
    }

    /// <summary>
    /// On a wait connection: WAIT for <paramref name="keys"/> up to <paramref name="timeout"/> (cancelling on
    /// expiry), then send <paramref name="followUp"/> and read its reply. A null follow-up makes it a plain wait.
    /// With retries on, a WAIT whose connection breaks is sent again on a new one for the time it has left, and so
    /// is a repeatable follow-up (GET, MULTI_GET); QUEUE_POP gets a <see cref="TcpStoreOutcomeUnknownException"/>.
    /// </summary>
    private async ValueTask<T> WaitThenAsync<T>(
        byte[][] keys, PooledBufferWriter waitRequest, TimeSpan timeout,
        PooledBufferWriter? followUp, string what, ReplyReader<T>? reply, bool sync, CancellationToken cancellationToken)
    {
        using var waitLease = waitRequest;
        using var followUpLease = followUp;
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await ConfirmWritesAsync(sync, cancellationToken).ConfigureAwait(false);
        var waitDeadline = Deadline.After(timeout);
        var retriesLeft = RetryBudget;
        while (true)
        {
            StoreConnection? connection = null;
            var broken = true;
            var step = "WAIT";
            try
            {
                connection = await AcquireWaiterAsync(sync, cancellationToken).ConfigureAwait(false);
                await connection.SendAsync(waitRequest.WrittenMemory, Deadline.After(_options.EffectiveReplyTimeout), sync, cancellationToken).ConfigureAwait(false);
                var readable = await connection.WaitReadableAsync(waitDeadline, sync, cancellationToken).ConfigureAwait(false);

                var deadline = Deadline.After(_options.EffectiveReplyTimeout);
                using var timer = sync ? null : ReplyTimer(deadline, cancellationToken);
                var token = timer?.Token ?? cancellationToken;
                bool satisfied;
                if (readable)
                {
                    ExpectByte(connection, await connection.ReadByteAsync(deadline, sync, token).ConfigureAwait(false), Protocol.StopWaiting, step);
                    satisfied = true;
                }
                else
                {
                    step = "CANCEL_WAIT";
                    satisfied = await CancelWaitAsync(connection, deadline, sync, token).ConfigureAwait(false);
                }

                if (!satisfied)
                {
                    step = "CHECK";
                    var missing = await FindMissingAsync(connection, keys, deadline, sync, token).ConfigureAwait(false);
                    broken = false;
                    throw new TcpStoreTimeoutException(timeout, missing);
                }

                var result = default(T)!;
                if (followUp is not null && reply is not null)
                {
                    step = what;
                    await connection.SendAsync(followUp.WrittenMemory, deadline, sync, token).ConfigureAwait(false);
                    result = await reply(connection, deadline, sync, token).ConfigureAwait(false);
                }

                broken = false;
                return result;
            }
            catch (Exception ex) when (retriesLeft > 0 && IsConnectionLoss(ex, cancellationToken))
            {
                retriesLeft--;
                AfterConnectionLoss(connection, step == what && !RetryPolicy.IsRepeatable(what), what, kept: false, ex);
            }
            catch (Exception ex)
            {
                throw Translate(ex, step, connection?.Endpoint, cancellationToken);
            }
            finally
            {
                if (connection is not null)
                {
                    ReleaseWaiter(connection, broken);
                }
            }
        }
    }

    /// <summary>
    /// Writes without a reply may still be in flight on the primary connection, and the server handles connections
    /// independently: a wait on another connection could overtake them and miss the caller's own SET. An empty CHECK
    /// on the primary (a round trip every 2.x server answers) guarantees they were applied first. Costs a round trip
    /// only right after such writes.
    /// </summary>
    private async ValueTask ConfirmWritesAsync(bool sync, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _primary)?.UnconfirmedRequest is not null || Volatile.Read(ref _orphaned) is { Count: > 0 })
        {
            await RunAsync(EncodeMulti(QueryType.Check, [], []), "CHECK", ReadCheck, sync, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends CANCEL_WAIT; returns whether the wait had completed anyway (STOP_WAITING crossed the cancel).</summary>
    private static async ValueTask<bool> CancelWaitAsync(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        using (var cancel = new PooledBufferWriter())
        {
            RequestWriter.WriteBare(cancel, QueryType.CancelWait);
            await connection.SendAsync(cancel.WrittenMemory, deadline, sync, cancellationToken).ConfigureAwait(false);
        }

        var first = await connection.ReadByteAsync(deadline, sync, cancellationToken).ConfigureAwait(false);
        if (first == Protocol.WaitCanceled)
        {
            return false;
        }

        ExpectByte(connection, first, Protocol.StopWaiting, "CANCEL_WAIT");
        ExpectByte(connection, await connection.ReadByteAsync(deadline, sync, cancellationToken).ConfigureAwait(false), Protocol.WaitCanceled, "CANCEL_WAIT");
        return true;
    }

    /// <summary>Pipelines one CHECK per key to name the keys that are missing (only after a timeout).</summary>
    private async ValueTask<IReadOnlyList<string>> FindMissingAsync(
        StoreConnection connection, byte[][] keys, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        var checkedCount = Math.Min(keys.Length, MaxKeysCheckedOnTimeout);
        using (var checks = new PooledBufferWriter())
        {
            for (var i = 0; i < checkedCount; i++)
            {
                RequestWriter.WriteMultiHeader(checks, QueryType.Check, 1);
                checks.WriteBlob(keys[i]);
            }

            await connection.SendAsync(checks.WrittenMemory, deadline, sync, cancellationToken).ConfigureAwait(false);
        }

        var missing = new List<string>();
        for (var i = 0; i < checkedCount; i++)
        {
            if (await connection.ReadByteAsync(deadline, sync, cancellationToken).ConfigureAwait(false) != Protocol.CheckReady)
            {
                missing.Add(DisplayKey(keys[i]));
            }
        }

        if (keys.Length > checkedCount)
        {
            missing.Add($"({keys.Length - checkedCount} more keys not checked)");
        }

        return missing;
    }

    private string DisplayKey(byte[] wireKey)
        => ByteText.Display(wireKey.AsSpan().StartsWith(_prefix) ? wireKey.AsSpan(_prefix.Length) : wireKey);

    private static void ExpectByte(StoreConnection connection, byte actual, byte expected, string what)
    {
        if (actual != expected)
        {
            throw new TcpStoreConnectionException(connection.Endpoint, $"protocol error: unexpected reply byte {actual} to {what}", null);
        }
    }

    private static CancellationTokenSource ReplyTimer(Deadline deadline, CancellationToken cancellationToken)
    {
        var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!deadline.IsNever)
        {
            timer.CancelAfter(deadline.Remaining);
        }

        return timer;
    }

    private Exception Translate(Exception ex, string what, string? endpoint, CancellationToken cancellationToken)
    {
        if (_disposed != 0 && ex is not TcpStoreException)
        {
            return new ObjectDisposedException(nameof(TcpStoreClient), ex);
        }

        var at = endpoint ?? Endpoint;
        return ex switch
        {
            EndOfStreamException => new TcpStoreConnectionException(at, $"the server closed the connection during {what}", ex),
            TcpStoreException => ex,
            OperationCanceledException when cancellationToken.IsCancellationRequested => ex,
            OperationCanceledException or TimeoutException
                => new TcpStoreTimeoutException($"{at}: no reply to {what} within {Connector.FormatTimeout(_options.EffectiveReplyTimeout)}", ex),
            SocketException or IOException or ObjectDisposedException
                => new TcpStoreConnectionException(at, $"{Connector.Describe(ex)} during {what}", ex),
            InvalidDataException => new TcpStoreConnectionException(at, $"protocol error in the reply to {what}: {ex.Message}", ex),
            _ => ex,
        };
    }

    private async ValueTask<StoreConnection> OpenAsync(bool sync, CancellationToken cancellationToken)
    {
        var connection = await _connector.OpenAsync(sync, cancellationToken).ConfigureAwait(false);
        _open[connection] = 0;
        if (_disposed != 0)
        {
            Forget(connection);
            throw new ObjectDisposedException(nameof(TcpStoreClient));
        }

        return connection;
    }

    private void Forget(StoreConnection connection)
    {
        _open.TryRemove(connection, out _);
        connection.Dispose();
    }

    private async ValueTask<StoreConnection> AcquirePrimaryAsync(bool sync, CancellationToken cancellationToken)
    {
        if (sync)
        {
            _primaryLock.Wait(cancellationToken);
        }
        else
        {
            await _primaryLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var connection = _primary;
            if (connection is not null && !connection.IsIdleAndOpen)
            {
                _primary = null;
                Forget(connection);
                if (_options.Retries)
                {
                    _connector.ReportBroken(connection.Endpoint);
                    Orphan(connection);
                }
                else if (connection.UnconfirmedRequest is { } last)
                {
                    throw new TcpStoreConnectionException(
                        connection.Endpoint,
                        $"the server closed the connection after {last}, which has no reply; it may have rejected that request",
                        null);
                }

                connection = null;
            }

            if (connection is null)
            {
                connection = await OpenAsync(sync, cancellationToken).ConfigureAwait(false);
                _primary = connection;
                if (_orphaned is { Count: > 0 })
                {
                    await ReplayOrphanedAsync(connection, sync, cancellationToken).ConfigureAwait(false);
                }
            }

            return connection;
        }
        catch
        {
            _primaryLock.Release();
            throw;
        }
    }

    /// <summary>
    /// Sends the writes a broken primary left unconfirmed on the new <paramref name="connection"/>, in order, where
    /// they stay unconfirmed until its next reply. Those that must not be repeated are dropped and reported (after the
    /// others were sent); all are given up when every endpoint has already closed the connection after them (a server
    /// rejecting one of them).
    /// Called under the primary lock.
    /// </summary>
    private async ValueTask ReplayOrphanedAsync(StoreConnection connection, bool sync, CancellationToken cancellationToken)
    {
        var orphaned = _orphaned!;
        var unrepeatable = orphaned.RemoveUnrepeatable();
        if (orphaned.Count == 0)
        {
            _orphaned = null;
        }
        else if (orphaned.Replays > _options.Targets.Count)
        {
            var names = string.Join(", ", orphaned.Writes.Select(w => w.What).Distinct());
            orphaned.Clear();
            throw new TcpStoreConnectionException(
                connection.Endpoint,
                $"the servers closed the connection after {names} each time it was sent again; they may be rejecting it",
                null);
        }

        else
        {
            orphaned.Replays++;
            var deadline = Deadline.After(_options.EffectiveReplyTimeout);
            using var timer = sync ? null : ReplyTimer(deadline, cancellationToken);
            foreach (var (_, request) in orphaned.Writes)
            {
                await connection.SendAsync(request, deadline, sync, timer?.Token ?? cancellationToken).ConfigureAwait(false);
            }

            connection.Unconfirmed = orphaned;
            connection.UnconfirmedRequest = orphaned.Writes.Last().What;
            _orphaned = null;
        }

        // Reported on this call, as a write without a reply always is: the connection it was sent on closed first.
        if (unrepeatable.Count > 0)
        {
            throw new TcpStoreOutcomeUnknownException(connection.Endpoint, string.Join(", ", unrepeatable), null);
        }
    }

    private void ReleasePrimary(StoreConnection connection, bool broken)
    {
        if (broken)
        {
            if (ReferenceEquals(_primary, connection))
            {
                _primary = null;
            }

            Forget(connection);
            Orphan(connection);
        }

        _primaryLock.Release();
    }

    /// <summary>Keeps the unconfirmed writes of a broken primary for the next one (under the primary lock).</summary>
    private void Orphan(StoreConnection connection)
    {
        if (connection.Unconfirmed is not { Count: > 0 } writes)
        {
            return;
        }

        connection.Unconfirmed = null;
        if (_orphaned is null)
        {
            _orphaned = writes;
        }
        else
        {
            _orphaned.Append(writes);
        }
    }

    /// <summary>A reply arrived on the primary: every earlier request on it was applied.</summary>
    private static void Confirmed(StoreConnection connection)
    {
        connection.UnconfirmedRequest = null;
        connection.Unconfirmed?.Clear();
    }

    /// <summary>An empty CHECK (a round trip every 2.x server answers) confirms the writes sent before it.</summary>
    private static async ValueTask ConfirmOnAsync(StoreConnection connection, Deadline deadline, bool sync, CancellationToken cancellationToken)
    {
        using (var check = new PooledBufferWriter())
        {
            RequestWriter.WriteMultiHeader(check, QueryType.Check, 0);
            await connection.SendAsync(check.WrittenMemory, deadline, sync, cancellationToken).ConfigureAwait(false);
        }

        await ReadCheck(connection, deadline, sync, cancellationToken).ConfigureAwait(false);
        Confirmed(connection);
    }

    /// <summary>How many times one call may replace a broken connection: once per endpoint (none without retries).</summary>
    private int RetryBudget => _options.Retries ? Math.Max(1, _options.Targets.Count) : 0;

    /// <summary>The connection broke (closed, reset): not a timeout, a protocol error, a cancellation or disposal.</summary>
    private bool IsConnectionLoss(Exception ex, CancellationToken cancellationToken)
        => _disposed == 0 && !cancellationToken.IsCancellationRequested
           && ex is EndOfStreamException or SocketException { SocketErrorCode: not SocketError.TimedOut } or ObjectDisposedException
               or IOException { InnerException: SocketException { SocketErrorCode: not SocketError.TimedOut } };

    // The next attempt starts at the next endpoint; a request that may already have taken effect is
    // not sent again, and its caller learns that its outcome is unknown.
    private void AfterConnectionLoss(StoreConnection? connection, bool outcomeUnknown, string what, bool kept, Exception ex)
    {
        if (connection is not null)
        {
            _connector.ReportBroken(connection.Endpoint);
        }

        if (outcomeUnknown)
        {
            throw OutcomeUnknown(connection!, what, kept, ex);
        }
    }

    private static TcpStoreOutcomeUnknownException OutcomeUnknown(StoreConnection connection, string what, bool kept, Exception ex)
    {
        // The writes sent before it without a reply are as uncertain; the repeatable ones are sent again on next use.
        var earlier = new List<string>(connection.Unconfirmed?.RemoveUnrepeatable() ?? []);
        if (kept && earlier.Count > 0)
        {
            earlier.RemoveAt(earlier.Count - 1); // the request itself, which was kept among them
        }

        var request = earlier.Count == 0 ? what : $"{what} (and {string.Join(", ", earlier)} before it)";
        return new TcpStoreOutcomeUnknownException(connection.Endpoint, request, ex);
    }

    private async ValueTask<StoreConnection> AcquireWaiterAsync(bool sync, CancellationToken cancellationToken)
    {
        while (_idleWaiters.TryPop(out var idle))
        {
            if (idle.IsIdleAndOpen)
            {
                return idle;
            }

            Forget(idle);
        }

        return await OpenAsync(sync, cancellationToken).ConfigureAwait(false);
    }

    private void ReleaseWaiter(StoreConnection connection, bool broken)
    {
        if (broken || _disposed != 0 || _idleWaiters.Count >= _options.MaxIdleWaitConnections)
        {
            Forget(connection);
            return;
        }

        _idleWaiters.Push(connection);
        if (_disposed != 0 && _idleWaiters.TryPop(out var late))
        {
            Forget(late);
        }
    }
}
