using TcpStore.Codec;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Differential;

/// <summary>
/// A connection that pipelines a WAIT and then a write of the same key wakes itself. The wake's
/// position among the write's own reply bytes must match the real libuv server byte for byte.
/// </summary>
public sealed class SelfWakeOrderTests
{
    public static TheoryData<string> Writes => new() { "add", "cas-create", "append", "set" };

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task Self_wake_is_ordered_like_libuv(string write)
    {
        await using var real = await RealPyTorchServer.StartAsync(useLibUv: true);
        await using var ours = await TestServer.StartAsync();
        var stream = Stream(write);
        var expected = await ExchangeAsync(real.Port, stream);
        var actual = await ExchangeAsync(ours.Port, stream);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
    }

    private static byte[] Stream(string write)
    {
        var key = RawClient.Key("/selfwake");
        return RawClient.Frame(w =>
        {
            RequestWriter.WriteMultiHeader(w, QueryType.Wait, 1);
            w.WriteBlob(key);
            switch (write)
            {
                case "add":
                    RequestWriter.WriteAdd(w, default, key, 5);
                    break;
                case "cas-create":
                    RequestWriter.WriteCompareSet(w, default, key, default, RawClient.Key("v"));
                    break;
                case "append":
                    RequestWriter.WriteKeyValueCommand(w, QueryType.Append, default, key, RawClient.Key("x"));
                    break;
                default:
                    RequestWriter.WriteKeyValueCommand(w, QueryType.Set, default, key, RawClient.Key("x"));
                    break;
            }

            RequestWriter.WritePing(w, 0x01020304);
        });
    }

    // Everything up to and including the PING echo that ends the stream.
    private static async Task<byte[]> ExchangeAsync(int port, byte[] stream)
    {
        using var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(stream);
        var received = new List<byte>();
        byte[] echo = [0x04, 0x03, 0x02, 0x01];
        while (received.Count < echo.Length || !received.TakeLast(echo.Length).SequenceEqual(echo))
        {
            received.Add(await client.ReadByteAsync(TimeSpan.FromSeconds(15)));
        }

        return [.. received];
    }
}
