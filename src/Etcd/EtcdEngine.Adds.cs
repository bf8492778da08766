using System.Buffers.Binary;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>
/// ADD with coalescing for the hot key: while one transaction for a key is in flight on this
/// front-end, further ADDs of that key queue up, and the next transaction applies their summed delta
/// at once; each client still gets its own value (the running sum in arrival order), as if the ADDs
/// had run one after another at the commit. A barrier of N ranks is then a handful of transactions
/// instead of N contending ones (optimistic transactions on one key would otherwise retry about N²/2 times).
/// </summary>
public sealed partial class EtcdEngine
{
    private readonly Dictionary<ByteString, AddQueue> _adds = [];

    private Task<(SessionError, long)> AddAsync(EtcdRequest request, PooledBufferWriter reply)
    {
        var key = _keys.Map(request.Key);
        var pending = new PendingAdd(request.Delta, reply);
        bool start;
        AddQueue queue;
        lock (_adds)
        {
            if (!_adds.TryGetValue(key, out queue!))
            {
                queue = new AddQueue(key, Interlocked.Increment(ref _nextConnection));
                _adds.Add(key, queue);
            }

            queue.Waiting.Add(pending);
            start = !queue.Running;
            queue.Running = true;
        }

        if (start)
        {
            _ = Task.Run(() => DrainAddsAsync(queue));
        }

        return pending.Done.Task;
    }

    private async Task DrainAddsAsync(AddQueue queue)
    {
        while (true)
        {
            PendingAdd[] batch;
            lock (_adds)
            {
                if (queue.Waiting.Count == 0)
                {
                    queue.Running = false;
                    _adds.Remove(queue.Key);
                    break;
                }

                batch = [.. queue.Waiting];
                queue.Waiting.Clear();
            }

            try
            {
                var (error, revision, first) = await CommitAddsAsync(queue, batch).ConfigureAwait(false);
                var sum = first;
                foreach (var add in batch)
                {
                    if (error == ProtocolError.None)
                    {
                        sum = unchecked(sum + add.Delta);
                        add.Reply.WriteInt64(sum);
                    }

                    add.Done.TrySetResult((error, revision));
                }
            }
            catch (Exception failure)
            {
                foreach (var add in batch)
                {
                    add.Done.TrySetException(failure);
                }
            }
        }

        if (queue.Sequence > 0)
        {
            // Best effort, as for a connection's marker.
            _ = _cluster.Kv.DeleteRangeAsync(new DeleteRangeRequest { Key = _keys.Marker(_frontEndId, queue.MarkerId) }, _cluster.Attempt()).ResponseAsync
                .ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    // Commits the batch's summed delta; returns the value before it (each ADD's result is that plus
    // the deltas up to and including its own).
    private async Task<(SessionError Error, long Revision, long Before)> CommitAddsAsync(AddQueue queue, PendingAdd[] batch)
    {
        long total = 0;
        foreach (var add in batch)
        {
            total = unchecked(total + add.Delta);
        }

        var marker = _keys.Marker(_frontEndId, queue.MarkerId);
        var sequence = ++queue.Sequence;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(20);
        // The value this front-end committed last is usually still current (one front-end drives a hot
        // key): start from it and save a read; a stale guess only costs the failed compare's reread.
        var current = queue.Last ?? (await _cluster.CallAsync((kv, o) => kv.RangeAsync(new RangeRequest { Key = queue.Key }, o)).ConfigureAwait(false)).Kvs.FirstOrDefault();
        while (true)
        {
            long before = 0;
            if (current is not null && !DecimalCounter.TryParse(current.Value.Span, out before))
            {
                return (SessionFault.NonNumericAdd, 0, 0);
            }

            var after = unchecked(before + total);
            var text = new byte[DecimalCounter.MaxLength];
            var value = text.AsSpan(0, DecimalCounter.Format(after, text)).ToArray();
            var mark = new byte[2 * sizeof(long)];
            BinaryPrimitives.WriteInt64BigEndian(mark, sequence);
            BinaryPrimitives.WriteInt64BigEndian(mark.AsSpan(sizeof(long)), before);

            var txn = new TxnRequest();
            txn.Compare.Add(current is null
                ? new Compare { Key = queue.Key, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 }
                : new Compare { Key = queue.Key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = current.ModRevision });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = queue.Key, Value = UnsafeByteOperations.UnsafeWrap(value) } });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = marker, Value = UnsafeByteOperations.UnsafeWrap(mark) } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = queue.Key } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = marker } });

            TxnResponse response;
            try
            {
                response = await _cluster.Kv.TxnAsync(txn, _cluster.Attempt()).ConfigureAwait(false);
            }
            catch (RpcException error) when (EtcdCluster.IsTransient(error))
            {
                await _cluster.BackOffAsync(started, delay, error, CancellationToken.None).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(500).Ticks));
                var (responses, _) = await ReadAtOneRevisionAsync([new RangeRequest { Key = marker }, new RangeRequest { Key = queue.Key }]).ConfigureAwait(false);
                if (responses[0].Kvs.FirstOrDefault() is { } landed && landed.Value.Length == 2 * sizeof(long)
                    && BinaryPrimitives.ReadInt64BigEndian(landed.Value.Span) == sequence)
                {
                    return (ProtocolError.None, landed.ModRevision, BinaryPrimitives.ReadInt64BigEndian(landed.Value.Span[sizeof(long)..]));
                }

                current = responses[1].Kvs.FirstOrDefault();
                queue.Last = null;
                continue;
            }

            if (response.Succeeded)
            {
                queue.Last = new Mvccpb.KeyValue { Key = queue.Key, Value = UnsafeByteOperations.UnsafeWrap(value), ModRevision = response.Header.Revision };
                return (ProtocolError.None, response.Header.Revision, before);
            }

            if (Landed(response.Responses[1].ResponseRange, sequence) is { } earlier && earlier.Value.Length == 2 * sizeof(long))
            {
                // An attempt with an unknown outcome committed after all (see UpdateAsync).
                queue.Last = null;
                return (ProtocolError.None, earlier.ModRevision, BinaryPrimitives.ReadInt64BigEndian(earlier.Value.Span[sizeof(long)..]));
            }

            current = response.Responses[0].ResponseRange.Kvs.FirstOrDefault();
        }
    }

    private sealed class AddQueue(ByteString key, long markerId)
    {
        public ByteString Key { get; } = key;

        public long MarkerId { get; } = markerId;

        public long Sequence { get; set; }

        /// <summary>The key as this front-end's last commit left it (null when unknown).</summary>
        public Mvccpb.KeyValue? Last { get; set; }

        public List<PendingAdd> Waiting { get; } = [];

        public bool Running { get; set; }
    }

    private sealed class PendingAdd(long delta, PooledBufferWriter reply)
    {
        public long Delta { get; } = delta;

        public PooledBufferWriter Reply { get; } = reply;

        public TaskCompletionSource<(SessionError, long)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
