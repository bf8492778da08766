using System.Buffers;
using TcpStore.Codec;

namespace TcpStore.Fuzz.Harness;

/// <summary>
/// Writes a parsed request back to bytes with the codec's own writers. A frame that parses must
/// re-encode to exactly the bytes it was parsed from; otherwise reader and writer disagree.
/// </summary>
internal static class RequestEncoder
{
    /// <summary>Encodes in a pre-2.2 table: the same layout with that table's code byte.</summary>
    public static byte[] Encode(in Request request, LegacyProtocol table)
    {
        var bytes = Encode(request);
        if (table != LegacyProtocol.Off)
        {
            FuzzInvariantException.Check(LegacyCodes.TryEncode(table, request.Type, out var code), $"{request.Type} parsed in the {table} table, which has no code for it");
            bytes[0] = code;
        }

        return bytes;
    }

    public static byte[] Encode(in Request request)
    {
        var writer = new ArrayBufferWriter<byte>();
        switch (request.Type)
        {
            case QueryType.Validate:
                RequestWriter.WriteValidate(writer, request.Word);
                break;
            case QueryType.Ping:
                RequestWriter.WritePing(writer, request.Word);
                break;
            case QueryType.GetNumKeys:
            case QueryType.CancelWait:
            case QueryType.ListKeys:
                RequestWriter.WriteBare(writer, request.Type);
                break;
            case QueryType.Get:
            case QueryType.DeleteKey:
            case QueryType.QueuePop:
            case QueryType.QueueLength:
            case QueryType.WatchKey:
                RequestWriter.WriteKeyCommand(writer, request.Type, default, request.Key);
                break;
            case QueryType.Set:
            case QueryType.Append:
            case QueryType.QueuePush:
                RequestWriter.WriteKeyValueCommand(writer, request.Type, default, request.Key, request.Value);
                break;
            case QueryType.CompareSet:
                RequestWriter.WriteCompareSet(writer, default, request.Key, request.Value, request.Desired);
                break;
            case QueryType.Add:
                RequestWriter.WriteAdd(writer, default, request.Key, request.Delta);
                break;
            case QueryType.Check:
            case QueryType.Wait:
            case QueryType.MultiGet:
            case QueryType.MultiSet:
                RequestWriter.WriteMultiHeader(writer, request.Type, request.Keys.Count);
                foreach (var entry in request.Keys)
                {
                    writer.WriteBlob(entry.Key);
                    if (request.Keys.HasValues)
                    {
                        writer.WriteBlob(entry.Value);
                    }
                }

                break;
            default:
                throw new FuzzInvariantException($"reader returned unknown type {request.Type}");
        }

        return writer.WrittenSpan.ToArray();
    }
}
