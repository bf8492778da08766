using System.Text;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>ADD on values that are not 64-bit decimal numbers closes the connection (as stoll throwing does upstream).</summary>
[Collection(HostileCollection.Name)]
public sealed class AddValueTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("99999999999999999999999")]
    public async Task Add_on_a_value_stoll_rejects_closes_the_connection_and_keeps_the_value(string stored)
    {
        await using var server = await HostileServer.StartAsync();
        string? peer = null;
        await server.UnderAttackAsync(async () =>
        {
            using var attacker = await RawClient.ConnectAsync(server.Port);
            peer = attacker.Socket.LocalEndPoint!.ToString();
            await attacker.SendAsync(RawClient.Set("/n", stored));
            await attacker.SendAsync(RawClient.Add("/n", 1));
            Assert.True(await attacker.IsClosedByServerAsync());
        });

        await HostileServer.EventuallyAsync(() => server.Metrics.Closed(CloseReason.NonNumericAdd) == 1, "NonNumericAdd not counted");
        Assert.Equal(1, server.Log.CountContaining(peer!, nameof(CloseReason.NonNumericAdd)));
        Assert.Equal(stored, Encoding.UTF8.GetString(server.Server.Store.Get(Encoding.UTF8.GetBytes("/n"))!));
        await server.AssertHealthyAsync();
    }

    [Theory]
    [InlineData(long.MaxValue, 1, long.MinValue)]
    [InlineData(long.MinValue, -1, long.MaxValue)]
    public async Task Add_that_overflows_the_sum_wraps_like_the_reference_servers(long start, long delta, long expected)
    {
        // Overflow of the sum itself is not an error upstream (two's-complement wrap on x86-64), so
        // it is not one here either; only an unparsable stored value is.
        await using var server = await HostileServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(RawClient.Add("/w", start));
        Assert.Equal(start, await client.ReadInt64Async());
        await client.SendAsync(RawClient.Add("/w", delta));
        Assert.Equal(expected, await client.ReadInt64Async());
        Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(server.Server.Store.Get(Encoding.UTF8.GetBytes("/w"))!));
    }
}
