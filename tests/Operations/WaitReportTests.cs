using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Operations;

public sealed class WaitReportTests
{
    [Fact]
    public async Task Describes_the_keys_blocked_waiters_are_waiting_for_and_forgets_them_once_released()
    {
        await using var server = await TestServer.StartAsync();
        Assert.Null(server.Server.DescribeWaits());

        using var first = await RawClient.ConnectAsync(server.Port);
        using var second = await RawClient.ConnectAsync(server.Port);
        await first.SendAsync(RawClient.Multi(QueryType.Wait, "/barrier:last_worker"));
        await second.SendAsync(RawClient.Multi(QueryType.Wait, "/barrier:last_worker", "/rank7"));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        string? description = null;
        while (DateTime.UtcNow < deadline && (description = server.Server.DescribeWaits())?.Contains("/rank7", StringComparison.Ordinal) != true)
        {
            await Task.Delay(10);
        }

        Assert.NotNull(description);
        Assert.StartsWith("2 key(s) awaited: /barrier:last_worker (2 waiters)", description, StringComparison.Ordinal);
        Assert.Contains("/rank7 (1 waiter)", description, StringComparison.Ordinal);

        using var setter = await RawClient.ConnectAsync(server.Port);
        await setter.SendAsync(RawClient.Set("/barrier:last_worker", "1"));
        await setter.SendAsync(RawClient.Set("/rank7", "x"));
        Assert.Equal(Protocol.StopWaiting, await first.ReadByteAsync());
        Assert.Equal(Protocol.StopWaiting, await second.ReadByteAsync());
        Assert.Null(server.Server.DescribeWaits());
    }
}
