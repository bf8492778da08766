using System.Globalization;
using System.Text;
using TcpStore.Tests.Interop;

namespace TcpStore.Tests.Differential;

/// <summary>
/// Runs planned calls through a real PyTorch client and renders each result as a comparable line.
/// Only what is deliberately server-independent is normalised: LIST_KEYS order (hash order) and
/// keys of other sequences; num_keys as the change since the sequence began; connection-level error
/// messages (errno wording), of which only the type is kept.
/// </summary>
public sealed class ClientOpRunner(RealPyTorchClient client, string prefix)
{
    public const string NetworkError = "c10::DistNetworkError";

    private long _baseKeyCount;

    /// <summary>True once the connection failed; the real client never reconnects.</summary>
    public bool Broken { get; private set; }

    public async Task<List<string>> RunAsync(IReadOnlyList<ClientOp> plan)
    {
        _baseKeyCount = await client.GetNumKeysAsync();
        var results = new List<string>(plan.Count);
        foreach (var op in plan)
        {
            results.Add(await RunOneAsync(op));
        }

        return results;
    }

    private byte[] K(string key) => Encoding.UTF8.GetBytes(prefix + key);

    private static byte[] V(string value) => Encoding.UTF8.GetBytes(value);

    private static string Show(byte[] bytes) => "\"" + Encoding.UTF8.GetString(bytes) + "\"";

    private async Task<string> RunOneAsync(ClientOp op)
    {
        try
        {
            switch (op.Kind)
            {
                case OpKind.Set:
                    await client.SetAsync(K(op.Key), V(op.Value));
                    return "ok";
                case OpKind.Get:
                    return Show(await client.GetAsync(K(op.Key)));
                case OpKind.Add:
                    return (await client.AddAsync(K(op.Key), op.Delta)).ToString(CultureInfo.InvariantCulture);
                case OpKind.CompareSet:
                    return Show(await client.CompareSetAsync(K(op.Key), V(op.Value), V(op.Desired)));
                case OpKind.Check:
                    return (await client.CheckAsync([.. op.Keys.Select(K)])).ToString();
                case OpKind.Wait:
                    await client.WaitAsync(TimeSpan.FromMilliseconds(op.TimeoutMs), [.. op.Keys.Select(K)]);
                    return "ok";
                case OpKind.Delete:
                    return (await client.DeleteKeyAsync(K(op.Key))).ToString();
                case OpKind.Append:
                    await client.AppendAsync(K(op.Key), V(op.Value));
                    return "ok";
                case OpKind.MultiGet:
                    return string.Join(" ", (await client.MultiGetAsync([.. op.Keys.Select(K)])).Select(Show));
                case OpKind.MultiSet:
                    await client.MultiSetAsync([.. op.Keys.Select(K)], [.. op.Values.Select(V)]);
                    return "ok";
                case OpKind.NumKeys:
                    return "+" + (await client.GetNumKeysAsync() - _baseKeyCount).ToString(CultureInfo.InvariantCulture);
                case OpKind.ListKeys:
                    var mine = (await client.ListKeysAsync()).Select(k => Encoding.UTF8.GetString(k)).Where(k => k.StartsWith(prefix, StringComparison.Ordinal));
                    return "[" + string.Join(",", mine.Order(StringComparer.Ordinal)) + "]";
                case OpKind.QueuePush:
                    await client.QueuePushAsync(K(op.Key), V(op.Value));
                    return "ok";
                case OpKind.QueuePop:
                    return Show(await client.QueuePopAsync(K(op.Key), op.Block));
                case OpKind.QueueLength:
                    return (await client.QueueLengthAsync(K(op.Key))).ToString(CultureInfo.InvariantCulture);
                default:
                    throw new ArgumentOutOfRangeException(nameof(op), op.Kind, null);
            }
        }
        catch (RealClientException ex) when (ex.ErrorType == NetworkError)
        {
            Broken = true;
            return "err " + NetworkError;
        }
        catch (RealClientException ex)
        {
            return "err " + ex.Message;
        }
    }
}
