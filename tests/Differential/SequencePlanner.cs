using System.Text;
using TcpStore.Core;

namespace TcpStore.Tests.Differential;

/// <summary>
/// Turns a generated sequence into one that never blocks for the store timeout: a single client
/// talks to the server, so a get/multi_get/blocking pop of something absent could only time out.
/// Such calls become their non-blocking relatives, wait timeouts are picked from what is present,
/// a zero wait timeout is kept only where it must time out (on present keys the 0 ms poll races with
/// the reply), and the sequence ends after an ADD that must close the connection (later calls would only race
/// with the close). This tracks presence only to plan; it asserts nothing.
/// </summary>
public static class SequencePlanner
{
    /// <summary>Timeout for waits whose keys are all present: the reply comes at once, so this only bounds a bug.</summary>
    public const int PresentWaitMs = 5000;

    /// <summary>Timeout for waits that must time out.</summary>
    public const int AbsentWaitMs = 30;

    public static List<ClientOp> Plan(IEnumerable<ClientOp> ops)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var queues = new Dictionary<string, int>(StringComparer.Ordinal);
        bool Ready(string key) => map.ContainsKey(key) || queues.GetValueOrDefault(key) > 0;

        var plan = new List<ClientOp>();
        foreach (var op in ops)
        {
            var planned = op;
            switch (op.Kind)
            {
                case OpKind.Set:
                    map[op.Key] = op.Value;
                    break;
                case OpKind.Append:
                    map[op.Key] = map.GetValueOrDefault(op.Key, string.Empty) + op.Value;
                    break;
                case OpKind.MultiSet:
                    for (var i = 0; i < op.Keys.Length; i++)
                    {
                        map[op.Keys[i]] = op.Values[i];
                    }

                    break;
                case OpKind.Delete:
                    map.Remove(op.Key);
                    break;
                case OpKind.CompareSet:
                    if (map.TryGetValue(op.Key, out var current) ? current == op.Value : op.Value.Length == 0)
                    {
                        map[op.Key] = op.Desired;
                    }

                    break;
                case OpKind.Add:
                    var fatal = false;
                    long sum = op.Delta;
                    if (map.TryGetValue(op.Key, out var text))
                    {
                        if (DecimalCounter.TryParse(Encoding.UTF8.GetBytes(text), out var parsed))
                        {
                            sum = unchecked(parsed + op.Delta);
                        }
                        else
                        {
                            fatal = true;
                        }
                    }

                    if (fatal)
                    {
                        plan.Add(op);
                        return plan;
                    }

                    map[op.Key] = sum.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case OpKind.Get:
                    if (!Ready(op.Key))
                    {
                        planned = op with { Kind = OpKind.Check };
                    }

                    break;
                case OpKind.MultiGet:
                    if (!op.Keys.All(Ready))
                    {
                        planned = op with { Kind = OpKind.Check };
                    }

                    break;
                case OpKind.Wait:
                    // A zero timeout only times out deterministically when a key is absent: on present
                    // keys the client's 0 ms poll races with the server's immediate reply.
                    planned = op with { TimeoutMs = op.Keys.All(Ready) ? PresentWaitMs : op.TimeoutMs == 0 ? 0 : AbsentWaitMs };
                    break;
                case OpKind.QueuePush:
                    queues[op.Key] = queues.GetValueOrDefault(op.Key) + 1;
                    break;
                case OpKind.QueuePop:
                    if (op.Block && !Ready(op.Key))
                    {
                        planned = op with { Block = false };
                    }

                    if (queues.GetValueOrDefault(op.Key) > 0)
                    {
                        queues[op.Key]--;
                    }

                    break;
            }

            plan.Add(planned);
        }

        return plan;
    }
}
