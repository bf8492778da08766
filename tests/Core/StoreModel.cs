using System.Buffers.Binary;
using System.Numerics;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary>
/// An executable specification of the server core, written as plainly as possible: dictionaries,
/// lists and a per-slot expected reply log. It follows PROTOCOL.md §3-§4 with the "recommended"
/// choices this project made (README table): compare_set wakes when the key exists afterwards,
/// queue push takes the oldest registrant off the list, WAIT registers only keys that are not ready.
/// Waiters are woken before the waking request's own reply is written (libuv's order), including
/// the connection that is executing when it woke itself.
/// </summary>
internal sealed class StoreModel
{
    private readonly Dictionary<string, byte[]> _map = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<byte[]>> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _waitLists = new(StringComparer.Ordinal);
    private readonly int[] _remaining;
    private readonly bool[] _validated;
    private readonly List<Expectation>[] _expected;

    public StoreModel(int slots)
    {
        _remaining = new int[slots];
        _validated = new bool[slots];
        _expected = Enumerable.Range(0, slots).Select(_ => new List<Expectation>()).ToArray();
    }

    public IReadOnlyDictionary<string, byte[]> Map => _map;

    public bool IsWaiting(int slot) => _remaining[slot] > 0;

    public bool IsValidated(int slot) => _validated[slot];

    /// <summary>Awaited keys (hex) and the number of registrations on each.</summary>
    public Dictionary<string, int> AwaitedKeys() => _waitLists.ToDictionary(p => p.Key, p => p.Value.Count, StringComparer.Ordinal);

    public IEnumerable<string> QueueNames => _queues.Keys;

    public byte[][] QueueContents(string name) => _queues.TryGetValue(name, out var q) ? [.. q] : [];

    /// <summary>Takes what the slot is expected to have received since the last call.</summary>
    public List<Expectation> TakeExpected(int slot)
    {
        var taken = _expected[slot].ToList();
        _expected[slot].Clear();
        return taken;
    }

    /// <summary>The slot's connection closed: its waits go, and a new connection starts unvalidated.</summary>
    public void Close(int slot)
    {
        CancelWaits(slot);
        _validated[slot] = false;
        _expected[slot].Clear();
    }

    /// <summary>Executes one request; returns the protocol error that closes the connection, if any.</summary>
    public SessionError Execute(int slot, WireRequest request)
    {
        return Run(slot, request);
    }

    private SessionError Run(int slot, WireRequest r)
    {
        if (!_validated[slot])
        {
            if (r.Type != QueryType.Validate || r.Word != Protocol.ValidationMagic)
            {
                return ProtocolError.NotValidated;
            }

            _validated[slot] = true;
            return ProtocolError.None;
        }

        var key = Hex(r.Key);
        switch (r.Type)
        {
            case QueryType.Validate:
                return ProtocolError.RepeatedValidate;
            case QueryType.Set:
                _map[key] = r.Value;
                WakeAll(key);
                break;
            case QueryType.CompareSet:
                if (_map.TryGetValue(key, out var current))
                {
                    if (current.AsSpan().SequenceEqual(r.Value))
                    {
                        _map[key] = r.Desired;
                        WakeAll(key);
                        Reply(slot, Blob(r.Desired));
                    }
                    else
                    {
                        WakeAll(key);
                        Reply(slot, Blob(current));
                    }
                }
                else if (r.Value.Length == 0)
                {
                    _map[key] = r.Desired;
                    WakeAll(key);
                    Reply(slot, Blob(r.Desired));
                }
                else
                {
                    Reply(slot, Blob(r.Value));
                }

                break;
            case QueryType.Get:
                Reply(slot, Blob(_map.GetValueOrDefault(key, [])));
                break;
            case QueryType.Add:
                long sum;
                if (_map.TryGetValue(key, out var text))
                {
                    if (!ReferenceStoll(text, out var parsed))
                    {
                        return SessionFault.NonNumericAdd;
                    }

                    sum = unchecked(parsed + r.Delta);
                }
                else
                {
                    sum = r.Delta;
                }

                _map[key] = System.Text.Encoding.ASCII.GetBytes(sum.ToString(System.Globalization.CultureInfo.InvariantCulture));
                WakeAll(key);
                Reply(slot, Int64(sum));
                break;
            case QueryType.Check:
                Reply(slot, [r.Keys.All(k => IsReady(Hex(k))) ? Protocol.CheckReady : Protocol.CheckNotReady]);
                break;
            case QueryType.Wait:
                CancelWaits(slot);
                foreach (var k in r.Keys.Select(Hex).Where(k => !IsReady(k)))
                {
                    if (!_waitLists.TryGetValue(k, out var list))
                    {
                        _waitLists[k] = list = [];
                    }

                    list.Add(slot);
                    _remaining[slot]++;
                }

                if (_remaining[slot] == 0)
                {
                    Reply(slot, [Protocol.StopWaiting]);
                }

                break;
            case QueryType.GetNumKeys:
                Reply(slot, Int64(_map.Count));
                break;
            case QueryType.DeleteKey:
                Reply(slot, Int64(_map.Remove(key) ? 1 : 0));
                break;
            case QueryType.Append:
                _map[key] = [.. _map.GetValueOrDefault(key, []), .. r.Value];
                WakeAll(key);
                break;
            case QueryType.MultiGet:
                foreach (var k in r.Keys)
                {
                    Reply(slot, Blob(_map.GetValueOrDefault(Hex(k), [])));
                }

                break;
            case QueryType.MultiSet:
                for (var i = 0; i < r.Keys.Count; i++)
                {
                    _map[Hex(r.Keys[i])] = r.Values[i];
                    WakeAll(Hex(r.Keys[i]));
                }

                break;
            case QueryType.CancelWait:
                CancelWaits(slot);
                Reply(slot, [Protocol.WaitCanceled]);
                break;
            case QueryType.Ping:
                var echo = new byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(echo, r.Word);
                Reply(slot, echo);
                break;
            case QueryType.QueuePush:
                if (!_queues.TryGetValue(key, out var queue))
                {
                    _queues[key] = queue = new Queue<byte[]>();
                }

                queue.Enqueue(r.Value);
                WakeOne(key);
                break;
            case QueryType.QueuePop:
                if (_queues.TryGetValue(key, out var popped) && popped.Count > 0)
                {
                    Reply(slot, Int64(popped.Count));
                    Reply(slot, Blob(popped.Dequeue()));
                }
                else
                {
                    Reply(slot, Int64(0));
                }

                break;
            case QueryType.QueueLength:
                Reply(slot, Int64(_queues.TryGetValue(key, out var measured) ? measured.Count : 0));
                break;
            case QueryType.ListKeys:
                _expected[slot].Add(Expectation.KeySet(_map.Keys.Select(Convert.FromHexString)));
                break;
            default:
                return ProtocolError.UnknownCommand;
        }

        return ProtocolError.None;
    }

    private bool IsReady(string key) => _map.ContainsKey(key) || (_queues.TryGetValue(key, out var q) && q.Count > 0);

    private void WakeAll(string key)
    {
        if (!_waitLists.Remove(key, out var list))
        {
            return;
        }

        foreach (var slot in list)
        {
            Decrement(slot);
        }
    }

    private void WakeOne(string key)
    {
        if (!_waitLists.TryGetValue(key, out var list))
        {
            return;
        }

        while (list.Count > 0)
        {
            var slot = list[0];
            list.RemoveAt(0);
            if (Decrement(slot))
            {
                break;
            }
        }

        if (list.Count == 0)
        {
            _waitLists.Remove(key);
        }
    }

    private bool Decrement(int slot)
    {
        if (--_remaining[slot] != 0)
        {
            return false;
        }

        // The satisfied wait leaves no registrations behind (each was consumed on the way to 0).
        Reply(slot, [Protocol.StopWaiting]);

        return true;
    }

    private void CancelWaits(int slot)
    {
        foreach (var (key, list) in _waitLists.ToList())
        {
            list.RemoveAll(s => s == slot);
            if (list.Count == 0)
            {
                _waitLists.Remove(key);
            }
        }

        _remaining[slot] = 0;
    }

    private void Reply(int slot, byte[] bytes) => _expected[slot].Add(Expectation.Exact(bytes));

    private static string Hex(byte[] key) => Convert.ToHexString(key);

    private static byte[] Blob(byte[] value)
    {
        var bytes = new byte[8 + value.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)value.Length);
        value.CopyTo(bytes, 8);
        return bytes;
    }

    private static byte[] Int64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>stoll written the long way: skip C spaces, sign, digits as a big integer, range check.</summary>
    internal static bool ReferenceStoll(byte[] text, out long value)
    {
        value = 0;
        var i = 0;
        while (i < text.Length && " \t\n\v\f\r"u8.Contains(text[i]))
        {
            i++;
        }

        var sign = BigInteger.One;
        if (i < text.Length && text[i] is (byte)'+' or (byte)'-')
        {
            sign = text[i] == '-' ? BigInteger.MinusOne : BigInteger.One;
            i++;
        }

        var start = i;
        var magnitude = BigInteger.Zero;
        while (i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9')
        {
            magnitude = (magnitude * 10) + (text[i] - '0');
            i++;
        }

        var result = sign * magnitude;
        if (i == start || result < long.MinValue || result > long.MaxValue)
        {
            return false;
        }

        value = (long)result;
        return true;
    }
}

/// <summary>Part of a connection's expected reply stream: exact bytes, or a LIST_KEYS reply whose order is unspecified.</summary>
internal sealed record Expectation(byte[]? Bytes, byte[][]? Keys)
{
    public static Expectation Exact(byte[] bytes) => new(bytes, null);

    public static Expectation KeySet(IEnumerable<byte[]> keys) => new(null, [.. keys]);

    /// <summary>Null when <paramref name="actual"/> is exactly the expected stream, else the first difference.</summary>
    public static string? Compare(IReadOnlyList<Expectation> expected, ReadOnlySpan<byte> actual)
    {
        var offset = 0;
        foreach (var part in expected)
        {
            if (part.Bytes is { } bytes)
            {
                if (actual.Length - offset < bytes.Length || !actual.Slice(offset, bytes.Length).SequenceEqual(bytes))
                {
                    return $"at byte {offset}: expected {Convert.ToHexString(bytes)}, got {Convert.ToHexString(actual[offset..])}";
                }

                offset += bytes.Length;
                continue;
            }

            var reader = new ResponseReader(actual[offset..]);
            if (!reader.TryReadInt64(out var count) || count != part.Keys!.Length)
            {
                return $"at byte {offset}: LIST_KEYS count differs (expected {part.Keys!.Length})";
            }

            var seen = new List<string>();
            for (var i = 0; i < count; i++)
            {
                if (!reader.TryReadBlob(1 << 20, out var key))
                {
                    return $"at byte {offset}: LIST_KEYS truncated";
                }

                seen.Add(Convert.ToHexString(key));
            }

            var want = part.Keys.Select(Convert.ToHexString).Order(StringComparer.Ordinal);
            if (!seen.Order(StringComparer.Ordinal).SequenceEqual(want))
            {
                return $"at byte {offset}: LIST_KEYS [{string.Join(",", seen)}] != [{string.Join(",", want)}]";
            }

            offset += reader.Consumed;
        }

        return offset == actual.Length ? null : $"{actual.Length - offset} unexpected bytes: {Convert.ToHexString(actual[offset..])}";
    }
}
