using Etcdserverpb;
using Google.Protobuf;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>SET and MULTI_SET: puts (retried as they are: writing the same bytes again is harmless).</summary>
public sealed partial class EtcdEngine
{
    private async Task<(SessionError, long)> SetAsync(EtcdRequest request)
    {
        var put = new PutRequest { Key = _keys.Map(request.Key), Value = UnsafeByteOperations.UnsafeWrap(request.Value) };
        var response = await _cluster.CallAsync((kv, o) => kv.PutAsync(put, o)).ConfigureAwait(false);
        return (ProtocolError.None, response.Header.Revision);
    }

    private async Task<(SessionError, long)> MultiSetAsync(EtcdRequest request)
    {
        // One transaction per batch: atomic up to the batch size (MaxOperationsPerTransaction, which must not exceed
        // etcd's --max-txn-ops), applied in order beyond it rather than refused: PyTorch's servers accept any
        // MULTI_SET within the request limits, and closing the connection on one would fail the job.
        // etcd refuses a transaction that writes one key twice; the last value of a repeated key is
        // what sequential SETs would leave, so only that one is sent.
        var last = new Dictionary<byte[], int>(ByteKeyComparer.Instance);
        for (var i = 0; i < request.Keys.Length; i++)
        {
            last[request.Keys[i]] = i;
        }

        var puts = new List<RequestOp>(last.Count);
        for (var i = 0; i < request.Keys.Length; i++)
        {
            if (last[request.Keys[i]] == i)
            {
                puts.Add(new RequestOp
                {
                    RequestPut = new PutRequest { Key = _keys.Map(request.Keys[i]), Value = UnsafeByteOperations.UnsafeWrap(request.Values[i]) },
                });
            }
        }

        long revision = 0;
        for (var start = 0; start < puts.Count; start += _opsPerTransaction)
        {
            var txn = new TxnRequest();
            txn.Success.AddRange(puts.Skip(start).Take(_opsPerTransaction));

            var response = await _cluster.CallAsync((kv, o) => kv.TxnAsync(txn, o)).ConfigureAwait(false);
            revision = response.Header.Revision;
        }

        return (ProtocolError.None, revision);
    }
}
