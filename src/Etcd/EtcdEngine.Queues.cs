using System.Buffers;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>
/// Queues: an item is a key of its own under the queue's range, created once; the queue's order is
/// the items' create revisions. A pop deletes the head with a transaction that also proves nothing
/// was pushed since the length it reports was read.
/// </summary>
public sealed partial class EtcdEngine
{
    private async Task<(SessionError, long)> QueuePushAsync(EtcdRequest request)
    {
        // A unique key per item, so retrying the put after an unknown outcome cannot add the item twice.
        var item = _keys.QueueItem(request.Key, _frontEndId, (ulong)Interlocked.Increment(ref _nextQueueItem));
        var put = new PutRequest { Key = item, Value = UnsafeByteOperations.UnsafeWrap(request.Value) };
        var response = await _cluster.CallAsync((kv, o) => kv.PutAsync(put, o)).ConfigureAwait(false);
        return (ProtocolError.None, response.Header.Revision);
    }

    private async Task<(SessionError, long)> QueueLengthAsync(EtcdRequest request, PooledBufferWriter reply)
    {
        var start = _keys.QueueStart(request.Key);
        var range = new RangeRequest { Key = start, RangeEnd = EtcdKeys.RangeEnd(start), CountOnly = true };
        var response = await _cluster.CallAsync((kv, o) => kv.RangeAsync(range, o)).ConfigureAwait(false);
        reply.WriteInt64(response.Count);
        return (ProtocolError.None, 0);
    }

    private async Task<(SessionError, long)> QueuePopAsync(EtcdRequest request, EtcdConnection connection, PooledBufferWriter reply)
    {
        var start = _keys.QueueStart(request.Key);
        var end = EtcdKeys.RangeEnd(start);
        var marker = _keys.Marker(_frontEndId, connection.Id);
        var sequence = ++connection.Sequence;
        var began = System.Diagnostics.Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(20);
        var headRange = new RangeRequest
        {
            Key = start,
            RangeEnd = end,
            Limit = 1,
            SortTarget = RangeRequest.Types.SortTarget.Create,
            SortOrder = RangeRequest.Types.SortOrder.Ascend,
        };
        var head = await _cluster.CallAsync((kv, o) => kv.RangeAsync(headRange, o)).ConfigureAwait(false);
        while (true)
        {
            if (head.Kvs.Count == 0)
            {
                reply.WriteInt64(0);
                return (ProtocolError.None, 0);
            }

            var first = head.Kvs[0];
            var answer = new PooledBufferWriter();
            answer.WriteInt64(head.Count);
            answer.WriteBlob(first.Value.Span);
            var answerBytes = answer.WrittenSpan.ToArray();
            answer.Release();

            // The head is unchanged (not popped by anyone) and no item was created after the read,
            // so the length read with it is still the length at the commit.
            var txn = new TxnRequest();
            txn.Compare.Add(new Compare
            {
                Key = first.Key,
                Target = Compare.Types.CompareTarget.Mod,
                Result = Compare.Types.CompareResult.Equal,
                ModRevision = first.ModRevision,
            });
            txn.Compare.Add(new Compare
            {
                Key = start,
                RangeEnd = end,
                Target = Compare.Types.CompareTarget.Create,
                Result = Compare.Types.CompareResult.Less,
                CreateRevision = head.Header.Revision + 1,
            });
            txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = first.Key } });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = marker, Value = MarkerValue(sequence, answerBytes) } });
            txn.Failure.Add(new RequestOp { RequestRange = headRange });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = marker } });

            TxnResponse response;
            try
            {
                response = await _cluster.Kv.TxnAsync(txn, _cluster.Attempt()).ConfigureAwait(false);
            }
            catch (RpcException error) when (EtcdCluster.IsTransient(error))
            {
                await _cluster.BackOffAsync(began, delay, error, CancellationToken.None).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(500).Ticks));
                var (landed, revision, _) = await ResolveUnknownOutcomeAsync(first.Key, marker, sequence, reply).ConfigureAwait(false);
                if (landed)
                {
                    return (ProtocolError.None, revision);
                }

                head = await _cluster.CallAsync((kv, o) => kv.RangeAsync(headRange, o)).ConfigureAwait(false);
                continue;
            }

            if (response.Succeeded)
            {
                reply.Write(answerBytes);
                return (ProtocolError.None, 0);
            }

            if (Landed(response.Responses[1].ResponseRange, sequence) is { } earlier)
            {
                // An attempt with an unknown outcome popped after all (see UpdateAsync).
                reply.Write(earlier.Value.Span[sizeof(long)..]);
                return (ProtocolError.None, 0);
            }

            head = response.Responses[0].ResponseRange;
            head.Header = response.Header;
        }
    }
}
