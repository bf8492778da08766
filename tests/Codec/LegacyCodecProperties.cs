using System.Buffers;
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Legacy;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>The pre-2.2 tables: code mapping, opening detection, request and notification round trips.</summary>
public sealed class LegacyCodecProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    public static TheoryData<LegacyProtocol> Tables() => new(LegacyProtocol.Torch113, LegacyProtocol.Torch21);

    [Fact]
    public void The_tables_agree_except_on_codes_7_and_8_and_know_nothing_past_11()
    {
        for (var code = 0; code <= 255; code++)
        {
            var in113 = LegacyCodes.TryDecode(LegacyProtocol.Torch113, (byte)code, out var type113);
            var in21 = LegacyCodes.TryDecode(LegacyProtocol.Torch21, (byte)code, out var type21);
            Assert.Equal(code <= 11, in113);
            Assert.Equal(code <= 11, in21);
            Assert.False(LegacyCodes.TryDecode(LegacyProtocol.Off, (byte)code, out _));
            if (code <= 11)
            {
                // 2.2 shifted every 2.1 code by one when it put VALIDATE at 0.
                Assert.Equal((QueryType)(code + 1), type21);
                Assert.Equal(code is 7 or 8, type113 != type21);
            }
        }

        Assert.True(LegacyCodes.TryDecode(LegacyProtocol.Torch113, 7, out var watch) && watch == QueryType.WatchKey);
        Assert.True(LegacyCodes.TryDecode(LegacyProtocol.Torch113, 8, out var delete) && delete == QueryType.DeleteKey);
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Encoding_then_decoding_a_code_is_the_identity(LegacyProtocol table)
    {
        foreach (var type in Enum.GetValues<QueryType>())
        {
            if (LegacyCodes.TryEncode(table, type, out var code))
            {
                Assert.True(LegacyCodes.TryDecode(table, code, out var back));
                Assert.Equal(type, back);
            }
            else
            {
                // Only what the table lacks: validation, ping, queues, list_keys, and the other table's 7/8.
                Assert.Contains(type, new[] { QueryType.Validate, QueryType.Ping, QueryType.QueuePush, QueryType.QueuePop, QueryType.QueueLength, QueryType.ListKeys, table == LegacyProtocol.Torch113 ? QueryType.Append : QueryType.WatchKey });
            }
        }
    }

    [Fact]
    public void Only_VALIDATE_with_the_magic_opens_a_modern_connection()
    {
        byte[] validate = [0x00, 0xCE, 0xF7, 0x85, 0x3C];
        var property = Prop.ForAll(Gen.Choose(1, 12).SelectMany(n => Gen.ArrayOf(WireGenerators.AnyByte, n)).ToArbitrary(), head =>
        {
            var compared = Math.Min(head.Length, 5);
            bool? expected = !head.AsSpan(0, compared).SequenceEqual(validate.AsSpan(0, compared)) ? true : compared == 5 ? false : null;
            Assert.Equal(expected, LegacyCodes.IsLegacyOpening(head));
        });
        Check.One(Runs, property);
        for (var length = 1; length <= 5; length++)
        {
            Assert.Equal(length == 5 ? false : null, LegacyCodes.IsLegacyOpening(validate.AsSpan(0, length)));
        }

        // A 1.13 SET opens with 0 but its key length is never CE F7 85 3C...: decided at the second byte.
        Assert.True(LegacyCodes.IsLegacyOpening([0x00, 0x05]));
    }

    private static Gen<(LegacyProtocol Table, List<WireRequest> Requests)> LegacyStreams =>
        from table in Gen.Elements(LegacyProtocol.Torch113, LegacyProtocol.Torch21)
        from requests in Gen.NonEmptyListOf(Gen.OneOf(WireGenerators.Request, WireGenerators.Blob.Select(k => WireRequest.KeyOnly(QueryType.WatchKey, k)))
            .Where(r => LegacyCodes.TryEncode(table, r.Type, out _)))
        select (table, requests.ToList());

    [Fact]
    public void A_legacy_stream_cut_anywhere_decodes_to_the_same_requests_in_its_table()
    {
        var property = Prop.ForAll(LegacyStreams.ToArbitrary(), sample =>
        {
            var (table, requests) = sample;
            var bytes = LegacyFrames.Encode(table, [.. requests]);
            var sequence = ChunkedSequence.From(ChunkedSequence.Split(bytes, [.. Enumerable.Range(1, Math.Max(0, bytes.Length - 1)).Where(i => i % 7 == 0)]));
            var scratch = new ArrayBufferWriter<byte>();
            foreach (var expected in requests)
            {
                var status = RequestReader.TryRead(sequence, CodecLimits.Default, scratch, out var parsed, out var consumed, out var error, table);
                Assert.True(status == ParseStatus.Complete, $"{table} {expected}: {status} {error}");
                Assert.Null(expected.Mismatch(parsed));
                sequence = sequence.Slice(consumed);
            }

            Assert.Equal(0, sequence.Length);

            // Every proper prefix of the first frame is incomplete, never an error.
            var first = LegacyFrames.Encode(table, requests[0]);
            for (var length = 0; length < first.Length; length++)
            {
                var reader = new RequestReader(first.AsSpan(0, length), CodecLimits.Default, table);
                Assert.Equal(ParseStatus.Incomplete, reader.TryRead(out _));
                Assert.InRange(reader.BytesNeeded, length + 1, first.Length);
            }
        });
        Check.One(Runs, property);
    }

    [Fact]
    public void A_watch_notification_carries_change_key_old_and_new_value()
    {
        var samples = from change in Gen.Elements(KeyChange.Updated, KeyChange.Created, KeyChange.Deleted)
                      from key in WireGenerators.Blob
                      from oldValue in WireGenerators.Blob
                      from newValue in WireGenerators.Blob
                      select (change, key, oldValue, newValue);
        var property = Prop.ForAll(samples.ToArbitrary(), sample =>
        {
            var writer = new ArrayBufferWriter<byte>();
            LegacyWatchWriter.WriteNotification(writer, sample.change, sample.key, sample.oldValue, sample.newValue);
            var span = writer.WrittenSpan;
            Assert.Equal((byte)sample.change, span[0]);
            span = span[1..];
            foreach (var expected in new[] { sample.key, sample.oldValue, sample.newValue })
            {
                var length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span));
                Assert.Equal(expected, span.Slice(8, length).ToArray());
                span = span[(8 + length)..];
            }

            Assert.True(span.IsEmpty);
        });
        Check.One(Runs, property);
    }
}
