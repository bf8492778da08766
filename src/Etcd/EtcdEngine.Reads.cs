using Etcdserverpb;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>GET, MULTI_GET, CHECK, GETNUMKEYS, LIST_KEYS: linearizable reads, several keys at one revision.</summary>
public sealed partial class EtcdEngine
{
    // etcd refuses transactions of more than 128 operations by default (--max-txn-ops).

    private async Task<(SessionError, long)> GetAsync(EtcdRequest request, PooledBufferWriter reply)
    {
        var (responses, _) = await _reads.ReadAsync([new RangeRequest { Key = _keys.Map(request.Key) }]).ConfigureAwait(false);
        reply.WriteBlob(responses[0].Kvs.Count > 0 ? responses[0].Kvs[0].Value.Span : default);
        return (ProtocolError.None, 0);
    }

    private async Task<(SessionError, long)> MultiGetAsync(EtcdRequest request, PooledBufferWriter reply)
    {
        var ranges = new RangeRequest[request.Keys.Length];
        for (var i = 0; i < ranges.Length; i++)
        {
            ranges[i] = new RangeRequest { Key = _keys.Map(request.Keys[i]) };
        }

        var (responses, _) = await ReadAtOneRevisionAsync(ranges).ConfigureAwait(false);
        foreach (var response in responses)
        {
            reply.WriteBlob(response.Kvs.Count > 0 ? response.Kvs[0].Value.Span : default);
        }

        return (ProtocolError.None, 0);
    }

    private async Task<(SessionError, long)> CheckAsync(EtcdRequest request, PooledBufferWriter reply)
    {
        var (ready, _) = await ReadinessAsync(request.Keys).ConfigureAwait(false);
        reply.WriteByte(Array.TrueForAll(ready, r => r) ? Protocol.CheckReady : Protocol.CheckNotReady);
        return (ProtocolError.None, 0);
    }

    private async Task<(SessionError, long)> CountKeysAsync(PooledBufferWriter reply)
    {
        var response = await _cluster.CallAsync(
            (kv, o) => kv.RangeAsync(new RangeRequest { Key = _keys.MapStart, RangeEnd = _keys.MapEnd, CountOnly = true }, o)).ConfigureAwait(false);
        reply.WriteInt64(response.Count);
        return (ProtocolError.None, 0);
    }

    private async Task<(SessionError, long)> ListKeysAsync(PooledBufferWriter reply)
    {
        var response = await _cluster.CallAsync(
            (kv, o) => kv.RangeAsync(new RangeRequest { Key = _keys.MapStart, RangeEnd = _keys.MapEnd, KeysOnly = true }, o)).ConfigureAwait(false);
        reply.WriteInt64(response.Kvs.Count);
        foreach (var kv in response.Kvs)
        {
            reply.WriteBlob(_keys.MapKeyOf(kv.Key));
        }

        return (ProtocolError.None, 0);
    }

    /// <summary>
    /// Whether each key is ready (a map key, or a non-empty queue), all read at one revision, which is returned.
    /// </summary>
    private async Task<(bool[] Ready, long Revision)> ReadinessAsync(byte[][] names)
    {
        var ranges = new RangeRequest[names.Length * 2];
        for (var i = 0; i < names.Length; i++)
        {
            ranges[2 * i] = new RangeRequest { Key = _keys.Map(names[i]), CountOnly = true };
            var queue = _keys.QueueStart(names[i]);
            ranges[(2 * i) + 1] = new RangeRequest { Key = queue, RangeEnd = EtcdKeys.RangeEnd(queue), CountOnly = true };
        }

        var (responses, revision) = await ReadAtOneRevisionAsync(ranges).ConfigureAwait(false);
        var ready = new bool[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            ready[i] = responses[2 * i].Count > 0 || responses[(2 * i) + 1].Count > 0;
        }

        return (ready, revision);
    }

    /// <summary>
    /// Runs every range as of one revision: the first batch is a linearizable read-only transaction,
    /// whose revision pins the later batches.
    /// </summary>
    private async Task<(RangeResponse[] Responses, long Revision)> ReadAtOneRevisionAsync(RangeRequest[] ranges)
    {
        if (ranges.Length > 0 && ranges.Length <= _opsPerTransaction)
        {
            return await _reads.ReadAsync(ranges).ConfigureAwait(false);
        }

        var responses = new RangeResponse[ranges.Length];
        long revision = 0;
        for (var start = 0; start < ranges.Length || start == 0; start += _opsPerTransaction)
        {
            var txn = new TxnRequest();
            for (var i = start; i < Math.Min(ranges.Length, start + _opsPerTransaction); i++)
            {
                ranges[i].Revision = revision;
                txn.Success.Add(new RequestOp { RequestRange = ranges[i] });
            }

            var response = await _cluster.CallAsync((kv, o) => kv.TxnAsync(txn, o)).ConfigureAwait(false);
            if (revision == 0)
            {
                revision = response.Header.Revision;
            }

            for (var i = 0; i < response.Responses.Count; i++)
            {
                responses[start + i] = response.Responses[i].ResponseRange;
            }

            if (ranges.Length == 0)
            {
                break;
            }
        }

        return (responses, revision);
    }
}
