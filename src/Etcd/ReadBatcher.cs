using Etcdserverpb;
using Google.Protobuf;

namespace TcpStore.Etcd;

/// <summary>
/// Coalesces the small reads of concurrent requests on this front-end into one read-only
/// transaction (identical ranges read once). A rendezvous has every rank WAIT on the same key at
/// about the same time: thousands of identical checks become a few transactions.
/// </summary>
/// <remarks>
/// Linearizable: a read joins a transaction that is sent after the read arrived and answers before
/// the read completes, so the transaction's revision lies within the read's own interval. A
/// connection's earlier write finished before its read was queued, so the read sees it.
/// </remarks>
internal sealed class ReadBatcher(EtcdCluster cluster, int maxRanges)
{
    private readonly List<PendingRead> _queue = [];
    private bool _running;

    /// <summary>Reads the ranges at one revision (at most <c>maxRanges</c> of them).</summary>
    public Task<(RangeResponse[] Responses, long Revision)> ReadAsync(RangeRequest[] ranges)
    {
        var read = new PendingRead(ranges);
        bool start;
        lock (_queue)
        {
            _queue.Add(read);
            start = !_running;
            _running = true;
        }

        if (start)
        {
            _ = Task.Run(DrainAsync);
        }

        return read.Done.Task;
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            var batch = new List<PendingRead>();
            lock (_queue)
            {
                var ranges = 0;
                var taken = 0;
                while (taken < _queue.Count && (batch.Count == 0 || ranges + _queue[taken].Ranges.Length <= maxRanges))
                {
                    ranges += _queue[taken].Ranges.Length;
                    batch.Add(_queue[taken]);
                    taken++;
                }

                _queue.RemoveRange(0, taken);
                if (batch.Count == 0)
                {
                    _running = false;
                    return;
                }
            }

            try
            {
                await ReadBatchAsync(batch).ConfigureAwait(false);
            }
            catch (Exception failure)
            {
                foreach (var read in batch)
                {
                    read.Done.TrySetException(failure);
                }
            }
        }
    }

    private async Task ReadBatchAsync(List<PendingRead> batch)
    {
        // Identical ranges (the same key checked by many connections) are read once.
        var slots = new Dictionary<ByteString, int>();
        var txn = new TxnRequest();
        var slotOf = new int[batch.Count][];
        for (var b = 0; b < batch.Count; b++)
        {
            var ranges = batch[b].Ranges;
            slotOf[b] = new int[ranges.Length];
            for (var i = 0; i < ranges.Length; i++)
            {
                var identity = ranges[i].ToByteString();
                if (!slots.TryGetValue(identity, out var slot))
                {
                    slot = txn.Success.Count;
                    slots.Add(identity, slot);
                    txn.Success.Add(new RequestOp { RequestRange = ranges[i] });
                }

                slotOf[b][i] = slot;
            }
        }

        var response = await cluster.CallAsync((kv, o) => kv.TxnAsync(txn, o)).ConfigureAwait(false);
        for (var b = 0; b < batch.Count; b++)
        {
            var results = new RangeResponse[slotOf[b].Length];
            for (var i = 0; i < results.Length; i++)
            {
                results[i] = response.Responses[slotOf[b][i]].ResponseRange;
            }

            batch[b].Done.TrySetResult((results, response.Header.Revision));
        }
    }

    private sealed class PendingRead(RangeRequest[] ranges)
    {
        public RangeRequest[] Ranges { get; } = ranges;

        public TaskCompletionSource<(RangeResponse[], long)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
