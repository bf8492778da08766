using FsCheck;
using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Codec;

/// <summary>Every reply the server writes is read back field by field, whatever the chunking.</summary>
public sealed class ResponseRoundTripProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    private enum Kind
    {
        Byte,
        UInt32,
        Int64,
        Blob,
    }

    private sealed record Field(Kind Kind, long Number, byte[] Bytes)
    {
        public int Size => Kind switch
        {
            Kind.Byte => 1,
            Kind.UInt32 => 4,
            Kind.Int64 => 8,
            _ => 8 + Bytes.Length,
        };
    }

    private static Gen<Field> ByteField { get; } = WireGenerators.AnyByte.Select(b => new Field(Kind.Byte, b, []));

    private static Gen<Field> Int64Field { get; } = WireGenerators.AnyLong.Select(n => new Field(Kind.Int64, n, []));

    private static Gen<Field> BlobField { get; } = WireGenerators.Blob.Select(b => new Field(Kind.Blob, 0, b));

    /// <summary>The reply shapes of the real commands (ADD, GET, MULTI_GET, LIST_KEYS, QUEUE_POP, PING, ...).</summary>
    private static Gen<Field[]> Reply { get; } = Gen.OneOf(
        ByteField.Select(f => new[] { f }),
        WireGenerators.AnyUInt.Select(n => new[] { new Field(Kind.UInt32, n, []) }),
        Int64Field.Select(f => new[] { f }),
        BlobField.Select(f => new[] { f }),
        Gen.ArrayOf(BlobField, 4),
        WireGenerators.KeyArray.Select(keys => keys.Select(k => new Field(Kind.Blob, 0, k)).Prepend(new Field(Kind.Int64, keys.Length, [])).ToArray()),
        Gen.Elements(true, false).SelectMany(empty => empty
            ? Gen.Constant(new[] { new Field(Kind.Int64, 0, []) })
            : Gen.Zip(Gen.Choose(1, 50), BlobField).Select(t => new[] { new Field(Kind.Int64, t.Item1, []), t.Item2 })));

    [Fact]
    public void Replies_written_by_the_frame_writer_read_back_at_any_split()
    {
        var samples =
            from replies in Gen.NonEmptyListOf(Reply)
            let fields = replies.SelectMany(r => r).ToArray()
            let bytes = Write(fields)
            from cuts in WireGenerators.SplitPoints(bytes.Length)
            select (fields, bytes, cuts);
        var property = Prop.ForAll(samples.ToArbitrary(), sample =>
        {
            var (fields, bytes, cuts) = sample;
            Assert.Equal(fields.Sum(f => f.Size), bytes.Length);
            var next = 0;
            var offset = 0;
            foreach (var received in cuts.Append(bytes.Length))
            {
                var reader = new ResponseReader(bytes.AsSpan(offset, received - offset));
                while (next < fields.Length)
                {
                    var field = fields[next];
                    var before = reader.Consumed;
                    var complete = TryRead(ref reader, field);
                    var fits = offset + before + field.Size <= received;
                    Assert.Equal(fits, complete);
                    if (!complete)
                    {
                        Assert.Equal(before, reader.Consumed);
                        break;
                    }

                    Assert.Equal(before + field.Size, reader.Consumed);
                    next++;
                }

                offset += reader.Consumed;
            }

            Assert.Equal(fields.Length, next);
            Assert.Equal(bytes.Length, offset);
        });
        Check.One(Runs, property);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    [InlineData(101UL)]
    public void A_reply_blob_longer_than_the_callers_limit_is_refused_before_its_payload_arrives(ulong length)
    {
        var bytes = BitConverter.GetBytes(length);
        var threw = false;
        try
        {
            var reader = new ResponseReader(bytes);
            reader.TryReadBlob(100, out _);
        }
        catch (InvalidDataException)
        {
            threw = true;
        }

        Assert.True(threw);
    }

    private static bool TryRead(ref ResponseReader reader, Field field)
    {
        switch (field.Kind)
        {
            case Kind.Byte:
                return reader.TryReadByte(out var b) && Same(b == field.Number);
            case Kind.UInt32:
                return reader.TryReadUInt32(out var u) && Same(u == field.Number);
            case Kind.Int64:
                return reader.TryReadInt64(out var l) && Same(l == field.Number);
            default:
                if (!reader.TryReadBlob(1 << 20, out var blob))
                {
                    return false;
                }

                Assert.Equal(field.Bytes, blob.ToArray());
                return true;
        }
    }

    private static bool Same(bool same)
    {
        Assert.True(same, "field value differs");
        return true;
    }

    private static byte[] Write(Field[] fields)
    {
        // The server's own output buffer, so its growth path is exercised too.
        using var writer = new PooledBufferWriter();
        foreach (var field in fields)
        {
            switch (field.Kind)
            {
                case Kind.Byte:
                    writer.WriteByte((byte)field.Number);
                    break;
                case Kind.UInt32:
                    writer.WriteUInt32((uint)field.Number);
                    break;
                case Kind.Int64:
                    writer.WriteInt64(field.Number);
                    break;
                default:
                    writer.WriteBlob(field.Bytes);
                    break;
            }
        }

        return writer.WrittenSpan.ToArray();
    }
}
