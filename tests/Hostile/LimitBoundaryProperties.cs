using FsCheck.Fluent;
using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>
/// Generated requests one byte (or one key) past the server's configured limits close the connection with
/// the matching reason, on both transports; the codec-level twin is <c>LimitProperties</c>.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class LimitBoundaryProperties
{
    private const int Samples = 20;

    [Theory]
    [InlineData(ServerTransport.Sockets)]
    [InlineData(ServerTransport.Epoll)]
    public async Task Requests_one_past_a_limit_close_the_connection_with_that_reason(ServerTransport transport)
    {
        var limits = new CodecLimits(MaxKeyLength: 16, MaxValueLength: 32, MaxKeysPerRequest: 4);
        await using var server = await HostileServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.MaxKeyLength = limits.MaxKeyLength;
            o.MaxValueLength = limits.MaxValueLength;
            o.MaxKeysPerRequest = limits.MaxKeysPerRequest;
        });
        var expected = new Dictionary<CloseReason, long>();
        foreach (var (request, error) in WireGenerators.AtLimit(limits, overBy: 1).Sample(Samples))
        {
            var reason = ServerMetrics.ToCloseReason(error);
            expected[reason] = expected.GetValueOrDefault(reason) + 1;
            using var client = await RawClient.ConnectAsync(server.Port);
            await client.SendAsync(request.Encode());
            Assert.True(await client.IsClosedByServerAsync(), $"{request}: not closed");
        }

        foreach (var (reason, count) in expected)
        {
            await HostileServer.EventuallyAsync(() => server.Metrics.Closed(reason) == count, $"{reason}: {server.Metrics.Closed(reason)} closes counted, expected {count}");
        }

        await server.AssertHealthyAsync();
    }
}
