using System.Buffers;
using TcpStore.Codec;

namespace TcpStore.Tests.Support;

/// <summary>
/// A request as plain data (heap arrays, not spans), so generators can produce it, tests can
/// encode it with the codec's own writer, and a parsed <see cref="Request"/> can be compared with it.
/// </summary>
public sealed record WireRequest(
    QueryType Type,
    byte[] Key,
    byte[] Value,
    byte[] Desired,
    long Delta,
    uint Word,
    IReadOnlyList<byte[]> Keys,
    IReadOnlyList<byte[]> Values)
{
    public static WireRequest Validate(uint magic = Protocol.ValidationMagic) => Make(QueryType.Validate, word: magic);

    public static WireRequest Ping(uint nonce) => Make(QueryType.Ping, word: nonce);

    public static WireRequest Bare(QueryType type) => Make(type);

    public static WireRequest KeyOnly(QueryType type, byte[] key) => Make(type, key: key);

    public static WireRequest KeyValue(QueryType type, byte[] key, byte[] value) => Make(type, key: key, value: value);

    public static WireRequest CompareSet(byte[] key, byte[] expected, byte[] desired) =>
        Make(QueryType.CompareSet, key: key, value: expected, desired: desired);

    public static WireRequest Add(byte[] key, long delta) => Make(QueryType.Add, key: key, delta: delta);

    public static WireRequest Multi(QueryType type, IReadOnlyList<byte[]> keys) => Make(type, keys: keys);

    public static WireRequest MultiSet(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values) =>
        Make(QueryType.MultiSet, keys: keys, values: values);

    /// <summary>Encodes with <see cref="RequestWriter"/> (the same encoder the client uses).</summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        switch (Type)
        {
            case QueryType.Validate:
                RequestWriter.WriteValidate(writer, Word);
                break;
            case QueryType.Ping:
                RequestWriter.WritePing(writer, Word);
                break;
            case QueryType.GetNumKeys or QueryType.CancelWait or QueryType.ListKeys:
                RequestWriter.WriteBare(writer, Type);
                break;
            case QueryType.Get or QueryType.DeleteKey or QueryType.QueuePop or QueryType.QueueLength or QueryType.WatchKey:
                RequestWriter.WriteKeyCommand(writer, Type, default, Key);
                break;
            case QueryType.Set or QueryType.Append or QueryType.QueuePush:
                RequestWriter.WriteKeyValueCommand(writer, Type, default, Key, Value);
                break;
            case QueryType.CompareSet:
                RequestWriter.WriteCompareSet(writer, default, Key, Value, Desired);
                break;
            case QueryType.Add:
                RequestWriter.WriteAdd(writer, default, Key, Delta);
                break;
            case QueryType.Check or QueryType.Wait or QueryType.MultiGet:
                RequestWriter.WriteMultiHeader(writer, Type, Keys.Count);
                foreach (var key in Keys)
                {
                    writer.WriteBlob(key);
                }

                break;
            case QueryType.MultiSet:
                RequestWriter.WriteMultiHeader(writer, Type, Keys.Count);
                for (var i = 0; i < Keys.Count; i++)
                {
                    writer.WriteBlob(Keys[i]);
                    writer.WriteBlob(Values[i]);
                }

                break;
            default:
                throw new InvalidOperationException($"no encoding for {Type}");
        }
    }

    public byte[] Encode()
    {
        var buffer = new ArrayBufferWriter<byte>();
        WriteTo(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Null when <paramref name="parsed"/> carries exactly this request's fields, else what differs.</summary>
    public string? Mismatch(in Request parsed)
    {
        if (parsed.Type != Type)
        {
            return $"type {parsed.Type} != {Type}";
        }

        // A CHECK of exactly one key carries that key as Key too (the session answers it from there).
        var key = Type == QueryType.Check && Keys.Count == 1 ? Keys[0] : Key;
        if (!parsed.Key.SequenceEqual(key))
        {
            return "key differs";
        }

        if (!parsed.Value.SequenceEqual(Value))
        {
            return "value differs";
        }

        if (!parsed.Desired.SequenceEqual(Desired))
        {
            return "desired differs";
        }

        if (parsed.Delta != Delta)
        {
            return $"delta {parsed.Delta} != {Delta}";
        }

        if (parsed.Word != Word)
        {
            return $"word {parsed.Word} != {Word}";
        }

        if (parsed.Keys.Count != Keys.Count)
        {
            return $"key count {parsed.Keys.Count} != {Keys.Count}";
        }

        var i = 0;
        foreach (var entry in parsed.Keys)
        {
            if (!entry.Key.SequenceEqual(Keys[i]))
            {
                return $"keys[{i}] differs";
            }

            var expectedValue = Type == QueryType.MultiSet ? Values[i] : [];
            if (!entry.Value.SequenceEqual(expectedValue))
            {
                return $"values[{i}] differs";
            }

            i++;
        }

        return i == Keys.Count ? null : $"enumerated {i} keys, expected {Keys.Count}";
    }

    public override string ToString() => Type switch
    {
        QueryType.Validate or QueryType.Ping => $"{Type}({Word:x})",
        QueryType.Add => $"{Type}({Show(Key)}, {Delta})",
        QueryType.CompareSet => $"{Type}({Show(Key)}, {Show(Value)}, {Show(Desired)})",
        QueryType.Check or QueryType.Wait or QueryType.MultiGet => $"{Type}[{string.Join(",", Keys.Select(Show))}]",
        QueryType.MultiSet => $"{Type}[{string.Join(",", Keys.Zip(Values, (k, v) => Show(k) + "=" + Show(v)))}]",
        QueryType.GetNumKeys or QueryType.CancelWait or QueryType.ListKeys => Type.ToString(),
        _ => Value.Length == 0 && Type is QueryType.Get or QueryType.DeleteKey or QueryType.QueuePop or QueryType.QueueLength
            ? $"{Type}({Show(Key)})"
            : $"{Type}({Show(Key)}, {Show(Value)})",
    };

    public static string Show(byte[] bytes) =>
        bytes.All(b => b is >= 0x20 and < 0x7f) ? "\"" + System.Text.Encoding.ASCII.GetString(bytes) + "\"" : "0x" + Convert.ToHexString(bytes);

    private static WireRequest Make(
        QueryType type,
        byte[]? key = null,
        byte[]? value = null,
        byte[]? desired = null,
        long delta = 0,
        uint word = 0,
        IReadOnlyList<byte[]>? keys = null,
        IReadOnlyList<byte[]>? values = null) =>
        new(type, key ?? [], value ?? [], desired ?? [], delta, word, keys ?? [], values ?? []);
}
