using System.Runtime.CompilerServices;
using System.Text;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>Encoded requests of every benchmarked kind, built with the project's own encoder.</summary>
public static class Frames
{
    /// <summary>The request kinds the micro-benchmarks cover.</summary>
    public static readonly string[] Kinds = ["Get", "Set", "Add", "Check", "WaitReady", "MultiGet8", "MultiSet8", "CompareSet", "Ping"];

    /// <summary>Size of every benchmarked value (as in the load table).</summary>
    public const int ValueSize = 64;

    /// <summary>The key every single-key request uses (wire form, with PyTorch's "/" prefix).</summary>
    public static byte[] Key { get; } = Encoding.ASCII.GetBytes("/bench/key:00000001");

    /// <summary>The counter ADD requests use.</summary>
    public static byte[] CounterKey { get; } = Encoding.ASCII.GetBytes("/bench/counter");

    /// <summary>A 64-byte value.</summary>
    public static byte[] Value { get; } = Enumerable.Range(0, ValueSize).Select(i => (byte)('a' + (i % 26))).ToArray();

    /// <summary>The i-th of the eight keys multi-key requests use.</summary>
    public static byte[] MultiKey(int i) => Encoding.ASCII.GetBytes($"/bench/multi:{i:D8}");

    /// <summary>VALIDATE, the first frame of every session.</summary>
    public static byte[] Validate()
    {
        using var writer = new PooledBufferWriter();
        RequestWriter.WriteValidate(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A session on <paramref name="store"/> that has accepted its VALIDATE, ready for requests.</summary>
    /// <param name="store">The store to run against.</param>
    /// <param name="legacy">Pre-2.2 detection (the server's default is <see cref="LegacyProtocol.Torch113"/>).</param>
    public static Session ValidatedSession(KeyValueStore store, LegacyProtocol legacy = LegacyProtocol.Off)
    {
        var session = new Session(store, CodecLimits.Default) { LegacyProtocol = legacy };
        if (session.Process(Validate()).Error != ProtocolError.None)
        {
            session.Dispose();
            throw new InvalidOperationException("VALIDATE was rejected");
        }

        return session;
    }

    /// <summary>
    /// One read as the connection runs it: <see cref="Session.Process"/> on <paramref name="batch"/>, then
    /// <see cref="Session.TakeOutput"/> into <paramref name="sending"/>, which is cleared again.
    /// </summary>
    /// <returns>Requests run plus reply bytes taken (so the work cannot be optimized away).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ProcessRead(Session session, byte[] batch, PooledBufferWriter sending)
    {
        var result = session.Process(batch);
        session.TakeOutput(sending);
        var written = sending.WrittenCount;
        sending.Clear();
        return result.Requests + written;
    }

    /// <summary>Encodes <paramref name="count"/> back-to-back requests of one kind (a pipelined batch).</summary>
    public static byte[] Build(string kind, int count = 1)
    {
        using var writer = new PooledBufferWriter();
        for (var i = 0; i < count; i++)
        {
            Write(writer, kind);
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Puts every key the requests read into <paramref name="store"/>.</summary>
    public static void Populate(KeyValueStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        store.Set(Key, Value);
        store.Set(CounterKey, "0"u8);
        for (var i = 0; i < 8; i++)
        {
            store.Set(MultiKey(i), Value);
        }
    }

    private static void Write(PooledBufferWriter writer, string kind)
    {
        switch (kind)
        {
            case "Get":
                RequestWriter.WriteKeyCommand(writer, QueryType.Get, default, Key);
                break;
            case "Set":
                // As the load table counts it: SET (no reply) followed by CHECK, one operation.
                RequestWriter.WriteKeyValueCommand(writer, QueryType.Set, default, Key, Value);
                WriteKeys(writer, QueryType.Check, 1);
                break;
            case "Add":
                RequestWriter.WriteAdd(writer, default, CounterKey, 1);
                break;
            case "Check":
                WriteKeys(writer, QueryType.Check, 1);
                break;
            case "WaitReady":
                WriteKeys(writer, QueryType.Wait, 1);
                break;
            case "MultiGet8":
                WriteKeys(writer, QueryType.MultiGet, 8);
                break;
            case "MultiSet8":
                RequestWriter.WriteMultiHeader(writer, QueryType.MultiSet, 8);
                for (var i = 0; i < 8; i++)
                {
                    writer.WriteBlob(MultiKey(i));
                    writer.WriteBlob(Value);
                }

                break;
            case "CompareSet":
                // Matching expected == desired: the value stays the same, so every iteration succeeds.
                RequestWriter.WriteCompareSet(writer, default, Key, Value, Value);
                break;
            case "Ping":
                RequestWriter.WritePing(writer, 12345);
                break;
            default:
                throw new ArgumentException($"unknown request kind {kind}", nameof(kind));
        }
    }

    private static void WriteKeys(PooledBufferWriter writer, QueryType type, int count)
    {
        RequestWriter.WriteMultiHeader(writer, type, count);
        for (var i = 0; i < count; i++)
        {
            writer.WriteBlob(count == 1 ? Key : MultiKey(i));
        }
    }
}
