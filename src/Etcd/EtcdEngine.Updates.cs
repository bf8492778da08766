using System.Buffers;
using System.Buffers.Binary;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Mvccpb;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>
/// APPEND, COMPARE_SET and DELETE_KEY (ADD has its own coalescing path): read the key, decide, and commit with a transaction
/// conditioned on the key's mod revision (or on its absence), rereading and deciding again when
/// another writer got there first.
/// </summary>
/// <remarks>
/// These writes are not safe to repeat blindly (an APPEND applied twice appends twice), yet an attempt
/// can fail with its outcome unknown (the member died after proposing it). So each commit also
/// writes the connection's marker key: this request's sequence number and reply. After an
/// unknown outcome the engine reads the marker and the key at one revision: the marker tells
/// whether the attempt landed (and what it answered); if not, it decides again from the fresh value.
/// </remarks>
public sealed partial class EtcdEngine
{
    private enum Decision
    {
        NoWrite,
        Put,
        Delete,
    }

    private async Task<(SessionError, long)> UpdateAsync(EtcdRequest request, EtcdConnection connection, PooledBufferWriter reply)
    {
        var key = _keys.Map(request.Key);
        var marker = _keys.Marker(_frontEndId, connection.Id);
        var sequence = ++connection.Sequence;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(20);
        var current = (await _cluster.CallAsync((kv, o) => kv.RangeAsync(new RangeRequest { Key = key }, o)).ConfigureAwait(false)).Kvs.FirstOrDefault();
        while (true)
        {
            var decision = Decide(request, current, out var value, out var answer);
            if (decision == Decision.NoWrite)
            {
                // Linearized at the read that saw 'current'.
                reply.Write(answer);
                return (ProtocolError.None, 0);
            }

            var txn = new TxnRequest();
            txn.Compare.Add(current is null
                ? new Compare { Key = key, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 }
                : new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = current.ModRevision });
            txn.Success.Add(decision == Decision.Put
                ? new RequestOp { RequestPut = new PutRequest { Key = key, Value = UnsafeByteOperations.UnsafeWrap(value) } }
                : new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = marker, Value = MarkerValue(sequence, answer) } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
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
                var (landed, revision, fresh) = await ResolveUnknownOutcomeAsync(key, marker, sequence, reply).ConfigureAwait(false);
                if (landed)
                {
                    return (ProtocolError.None, revision);
                }

                current = fresh;
                continue;
            }

            if (response.Succeeded)
            {
                reply.Write(answer);
                return (ProtocolError.None, response.Header.Revision);
            }

            if (Landed(response.Responses[1].ResponseRange, sequence) is { } earlier)
            {
                // An earlier attempt whose outcome was unknown committed after all (that is why the
                // compare failed): its reply stands, and nothing is applied twice.
                reply.Write(earlier.Value.Span[sizeof(long)..]);
                return (ProtocolError.None, earlier.ModRevision);
            }

            current = response.Responses[0].ResponseRange.Kvs.FirstOrDefault();
        }
    }

    /// <summary>The marker, when it records <paramref name="sequence"/> (the attempt landed).</summary>
    private static KeyValue? Landed(RangeResponse markerRange, long sequence) =>
        markerRange.Kvs.FirstOrDefault() is { } mark && mark.Value.Length >= sizeof(long)
            && BinaryPrimitives.ReadInt64BigEndian(mark.Value.Span) == sequence ? mark : null;

    /// <summary>Reads the marker and the key at one revision: whether the attempt landed (its reply is then written).</summary>
    private async Task<(bool Landed, long Revision, KeyValue? Current)> ResolveUnknownOutcomeAsync(ByteString key, ByteString marker, long sequence, PooledBufferWriter reply)
    {
        var (responses, _) = await ReadAtOneRevisionAsync([new RangeRequest { Key = marker }, new RangeRequest { Key = key }]).ConfigureAwait(false);
        if (Landed(responses[0], sequence) is { } mark)
        {
            reply.Write(mark.Value.Span[sizeof(long)..]);
            return (true, mark.ModRevision, null);
        }

        return (false, 0, responses[1].Kvs.FirstOrDefault());
    }

    private static ByteString MarkerValue(long sequence, byte[] answer)
    {
        var bytes = new byte[sizeof(long) + answer.Length];
        BinaryPrimitives.WriteInt64BigEndian(bytes, sequence);
        answer.CopyTo(bytes, sizeof(long));
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    // What the in-memory engine would do given the key's current value (null when missing): the
    // write to make, its new value, and the reply bytes.
    private static Decision Decide(EtcdRequest request, KeyValue? current, out byte[] value, out byte[] answer)
    {
        value = [];
        answer = [];
        var present = current is not null;
        var old = present ? current!.Value.Span : default;
        var writer = new PooledBufferWriter();
        try
        {
            switch (request.Type)
            {
                case QueryType.Append:
                    value = present ? [.. old, .. request.Value] : request.Value;
                    return Decision.Put;
                case QueryType.CompareSet:
                    if (present ? old.SequenceEqual(request.Value) : request.Value.Length == 0)
                    {
                        writer.WriteBlob(request.Desired);
                        answer = writer.WrittenSpan.ToArray();
                        value = request.Desired;
                        return Decision.Put;
                    }

                    writer.WriteBlob(present ? old : request.Value);
                    answer = writer.WrittenSpan.ToArray();
                    return Decision.NoWrite;
                default: // DeleteKey
                    writer.WriteInt64(present ? 1 : 0);
                    answer = writer.WrittenSpan.ToArray();
                    return present ? Decision.Delete : Decision.NoWrite;
            }
        }
        finally
        {
            writer.Release();
        }
    }
}
