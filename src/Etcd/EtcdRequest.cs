using TcpStore.Codec;

namespace TcpStore.Etcd;

/// <summary>A request copied out of the session's input, so it outlives the parse (the etcd call completes later).</summary>
internal sealed class EtcdRequest
{
    private EtcdRequest(QueryType type, byte[] key, byte[] value, byte[] desired, long delta, byte[][] keys, byte[][] values)
    {
        Type = type;
        Key = key;
        Value = value;
        Desired = desired;
        Delta = delta;
        Keys = keys;
        Values = values;
    }

    public QueryType Type { get; }

    public byte[] Key { get; }

    public byte[] Value { get; }

    public byte[] Desired { get; }

    public long Delta { get; }

    /// <summary>The keys of CHECK, WAIT, MULTI_GET and MULTI_SET.</summary>
    public byte[][] Keys { get; }

    /// <summary>The values of MULTI_SET.</summary>
    public byte[][] Values { get; }

    public static EtcdRequest Copy(ref Request request)
    {
        var keys = Array.Empty<byte[]>();
        var values = Array.Empty<byte[]>();
        if (request.Keys.Count > 0)
        {
            keys = new byte[request.Keys.Count][];
            values = request.Keys.HasValues ? new byte[keys.Length][] : values;
            var i = 0;
            foreach (var entry in request.Keys)
            {
                keys[i] = entry.Key.ToArray();
                if (request.Keys.HasValues)
                {
                    values[i] = entry.Value.ToArray();
                }

                i++;
            }
        }

        return new EtcdRequest(request.Type, request.Key.ToArray(), request.Value.ToArray(), request.Desired.ToArray(), request.Delta, keys, values);
    }
}
