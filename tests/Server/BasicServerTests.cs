using System.Text;
using TcpStore.Codec;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

public sealed class BasicServerTests
{
    [Fact]
    public async Task Set_then_get_returns_the_value_over_raw_sockets()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(RawClient.Set("k", "hello"));
        await client.SendAsync(RawClient.Get("k"));
        Assert.Equal("hello", Encoding.UTF8.GetString(await client.ReadBlobAsync()));
    }

    [Fact]
    public async Task Real_pytorch_client_sets_gets_and_adds()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RealPyTorchClient.ConnectAsync("127.0.0.1", server.Port, TimeSpan.FromSeconds(10));
        await client.SetAsync(RealPyTorchClient.Utf8("a"), RealPyTorchClient.Utf8("1"));
        Assert.Equal("1", Encoding.UTF8.GetString(await client.GetAsync(RealPyTorchClient.Utf8("a"))));
        Assert.Equal(42, await client.AddAsync(RealPyTorchClient.Utf8("a"), 41));
        Assert.Equal(1, server.Server.Store.KeyCount);
        Assert.NotNull(server.Server.Store.Get(Encoding.UTF8.GetBytes("/a")));
    }
}
