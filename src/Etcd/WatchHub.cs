using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Mvccpb;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>
/// One watch stream per front-end over the store's whole prefix, resumed from the last revision it
/// processed after any failure (so no event is lost while a member is down), feeding the pending
/// WAITs of this front-end's connections.
/// </summary>
/// <remarks>
/// A single stream rather than one watch per WAIT: a barrier of thousands of ranks would otherwise
/// open thousands of watches on the same key. Events are applied in revision order under one lock,
/// which is also where waits register, so a wait either sees an event or was registered after it.
/// </remarks>
internal sealed class WatchHub : IAsyncDisposable
{
    private readonly EtcdCluster _cluster;
    private readonly EtcdKeys _keys;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<byte[], List<WaitEntry>> _byName = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], List<WaitEntry>>.AlternateLookup<ReadOnlySpan<byte>> _byNameSpan;
    private readonly List<(long Revision, TaskCompletionSource Done)> _revisionWaiters = [];
    private readonly CancellationTokenSource _stop = new();
    private long _processed;
    private Task? _loop;

    public WatchHub(EtcdCluster cluster, EtcdKeys keys, ILogger logger)
    {
        _cluster = cluster;
        _keys = keys;
        _logger = logger;
        _byNameSpan = _byName.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Number of distinct keys that this front-end's connections wait for.</summary>
    public int AwaitedKeyCount
    {
        get
        {
            lock (_lock)
            {
                return _byName.Count;
            }
        }
    }

    /// <summary>Starts watching from the cluster's current revision.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var now = await _cluster.CallAsync(
            (kv, o) => kv.RangeAsync(new RangeRequest { Key = _keys.Prefix, RangeEnd = _keys.PrefixEnd, CountOnly = true }, o),
            cancellationToken).ConfigureAwait(false);
        _processed = now.Header.Revision;
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Registers a wait before its check runs (see <see cref="WaitEntry"/>).</summary>
    public WaitEntry Register(Session session, byte[][] names)
    {
        var entry = new WaitEntry(session, names);
        lock (_lock)
        {
            foreach (var name in names)
            {
                if (!_byName.TryGetValue(name, out var list))
                {
                    list = [];
                    _byName.Add(name, list);
                }

                if (!list.Contains(entry))
                {
                    list.Add(entry);
                }
            }
        }

        return entry;
    }

    /// <summary>
    /// The check ran at <paramref name="revision"/> and found <paramref name="readyAtCheck"/>: true
    /// when the wait is already satisfied (the WAIT answers STOP_WAITING itself); otherwise it stays
    /// registered and <see cref="Session.SignalWaitSatisfied"/> fires later.
    /// </summary>
    public bool Arm(WaitEntry entry, long revision, bool[] readyAtCheck)
    {
        lock (_lock)
        {
            if (entry.Finished)
            {
                return false;
            }

            for (var i = 0; i < readyAtCheck.Length; i++)
            {
                if (readyAtCheck[i] && !entry.Satisfied[i])
                {
                    entry.Satisfied[i] = true;
                    entry.Remaining--;
                }
            }

            entry.Threshold = revision;
            foreach (var (name, at) in entry.Buffered)
            {
                if (at > revision)
                {
                    entry.Satisfy(name);
                }
            }

            entry.Buffered.Clear();
            if (entry.Remaining == 0)
            {
                RemoveLocked(entry);
                return true;
            }

            return false;
        }
    }

    /// <summary>Drops a pending wait (CANCEL_WAIT, a newer WAIT, or the connection closing).</summary>
    /// <returns>True when it was still pending.</returns>
    public bool Cancel(WaitEntry entry)
    {
        lock (_lock)
        {
            if (entry.Finished)
            {
                return false;
            }

            RemoveLocked(entry);
            return true;
        }
    }

    /// <summary>
    /// Completes once this front-end has applied every event up to <paramref name="revision"/> (a
    /// write of its own), so a connection that waits on the key it writes is woken before the write's
    /// reply, as on the in-memory engine. Gives up after <paramref name="timeout"/>.
    /// </summary>
    public Task WhenProcessedAsync(long revision, TimeSpan timeout)
    {
        TaskCompletionSource done;
        lock (_lock)
        {
            if (_processed >= revision)
            {
                return Task.CompletedTask;
            }

            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _revisionWaiters.Add((revision, done));
        }

        return done.Task.WaitAsync(timeout).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await WatchOnceAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Cancelled && _stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception error)
            {
                _logger.LogWarning("etcd watch interrupted, resuming after revision {Revision}: {Error}", Volatile.Read(ref _processed), error.Message);
            }

            try
            {
                await Task.Delay(100, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task WatchOnceAsync()
    {
        using var call = _cluster.Watch.Watch(cancellationToken: _stop.Token);
        long start;
        lock (_lock)
        {
            start = _processed + 1;
        }

        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = _keys.Prefix, RangeEnd = _keys.PrefixEnd, StartRevision = start },
        }).ConfigureAwait(false);

        while (await call.ResponseStream.MoveNext(_stop.Token).ConfigureAwait(false))
        {
            var response = call.ResponseStream.Current;
            if (response.Canceled)
            {
                if (response.CompactRevision > 0)
                {
                    // History before it is gone: keys written meanwhile are only seen by later checks.
                    _logger.LogError("etcd compacted revisions this front-end had not watched yet (to {Revision}); waits registered before may miss a write", response.CompactRevision);
                    lock (_lock)
                    {
                        _processed = Math.Max(_processed, response.CompactRevision - 1);
                    }
                }

                return;
            }

            if (response.Events.Count > 0)
            {
                Apply(response.Events);
            }
        }
    }

    private void Apply(Google.Protobuf.Collections.RepeatedField<Event> events)
    {
        lock (_lock)
        {
            foreach (var e in events)
            {
                var revision = e.Kv.ModRevision;
                if (e.Type == Event.Types.EventType.Put && _byName.Count > 0)
                {
                    var key = e.Kv.Key.Span;
                    if (_keys.IsMap(key))
                    {
                        OnMapWriteLocked(_keys.MapKeyOf(e.Kv.Key), revision);
                    }
                    else if (e.Kv.Version == 1 && _keys.TryQueueNameOf(key, out var name))
                    {
                        OnQueuePushLocked(name, revision);
                    }
                }

                _processed = Math.Max(_processed, revision);
            }

            for (var i = _revisionWaiters.Count - 1; i >= 0; i--)
            {
                if (_revisionWaiters[i].Revision <= _processed)
                {
                    _revisionWaiters[i].Done.TrySetResult();
                    _revisionWaiters.RemoveAt(i);
                }
            }
        }
    }

    // A map write wakes every wait on the key, as on the in-memory engine.
    private void OnMapWriteLocked(ReadOnlySpan<byte> name, long revision)
    {
        if (!_byNameSpan.TryGetValue(name, out var list))
        {
            return;
        }

        foreach (var entry in list.ToArray())
        {
            if (entry.Threshold < 0)
            {
                entry.Buffered.Add((name.ToArray(), revision));
            }
            else if (revision > entry.Threshold && entry.Satisfy(name))
            {
                Finish(entry);
            }
        }
    }

    // A queue push wakes one wait on the name (the oldest armed one), as on the in-memory engine.
    // Waits still checking buffer it too; each front-end wakes its own waiter, so a push seen by
    // several front-ends can wake one waiter on each (documented in docs/ha.md).
    private void OnQueuePushLocked(ReadOnlySpan<byte> name, long revision)
    {
        if (!_byNameSpan.TryGetValue(name, out var list))
        {
            return;
        }

        var woken = false;
        foreach (var entry in list.ToArray())
        {
            if (entry.Threshold < 0)
            {
                entry.Buffered.Add((name.ToArray(), revision));
            }
            else if (!woken && revision > entry.Threshold && entry.Needs(name))
            {
                woken = true;
                if (entry.Satisfy(name))
                {
                    Finish(entry);
                }
            }
        }
    }

    private void Finish(WaitEntry entry)
    {
        RemoveLocked(entry);
        entry.Session.SignalWaitSatisfied();
    }

    private void RemoveLocked(WaitEntry entry)
    {
        entry.Finished = true;
        foreach (var name in entry.Names)
        {
            if (_byName.TryGetValue(name, out var list))
            {
                list.Remove(entry);
                if (list.Count == 0)
                {
                    _byName.Remove(name);
                }
            }
        }
    }
}
