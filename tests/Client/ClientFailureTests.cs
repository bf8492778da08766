using System.Diagnostics;
using TcpStore.Client;

namespace TcpStore.Tests.Client;

/// <summary>Network failures: refused connects, server restarts, servers dying mid-wait, requests a server rejects.</summary>
public sealed class ClientFailureTests
{
    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Server_restart_while_idle_is_survived_by_reconnecting(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();
        Assert.Equal(1, await client.AddAsync("c", 1));
        Assert.Equal(1, await client.AddAsync("w", 1));
        await client.GetAsync("w"); // leaves an idle connection in the wait pool too

        await server.RestartAsync();

        // The restarted server is empty; both the primary and the pooled wait connection are replaced silently.
        Assert.Equal(1, await client.AddAsync("c", 1));
        await client.SetAsync("w", "again");
        Assert.Equal("again", await client.GetStringAsync("w"));
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    [InlineData(Backend.PyTorchLegacy)]
    public async Task Server_stopping_mid_wait_raises_a_connection_error_without_hanging(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync(TimeSpan.FromSeconds(30));
        var waiting = client.WaitAsync(["never"], TimeSpan.FromSeconds(30)).AsTask();
        var blockedGet = Task.Run(() => client.Get("never-either"));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        var watch = Stopwatch.StartNew();
        await server.StopAsync();
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        var syncEx = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => blockedGet.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Contains(server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.Contains("WAIT", ex.Message, StringComparison.Ordinal);
        Assert.Equal($"127.0.0.1:{server.Port}", syncEx.Endpoint);
    }

    [Fact]
    public async Task Connection_refused_is_reported_with_the_endpoint_after_the_timeout()
    {
        int port;
        await using (var gone = await Support.TestServer.StartAsync())
        {
            port = gone.Port;
        }

        var options = new TcpStoreClientOptions { Port = port, Timeout = TimeSpan.FromMilliseconds(600), InitialBackoff = TimeSpan.FromMilliseconds(50) };
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await TcpStoreClient.ConnectAsync(options));
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(550), TimeSpan.FromSeconds(5));
        Assert.Equal($"127.0.0.1:{port}", ex.Endpoint);
        Assert.Contains("connection refused", ex.Message, StringComparison.Ordinal);
        Assert.Throws<TcpStoreConnectionException>(() => TcpStoreClient.Connect(options));
    }

    [Fact]
    public async Task Client_waits_for_a_server_that_starts_late()
    {
        int port;
        await using (var probe = await Support.TestServer.StartAsync())
        {
            port = probe.Port;
        }

        var options = new TcpStoreClientOptions { Port = port, Timeout = TimeSpan.FromSeconds(15), InitialBackoff = TimeSpan.FromMilliseconds(50) };
        var connecting = TcpStoreClient.ConnectAsync(options).AsTask();
        await Task.Delay(400);
        Assert.False(connecting.IsCompleted);
        await using var server = await Support.TestServer.StartAsync(o => o.Port = port);
        await using var client = await connecting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, await client.AddAsync("x", 1));
    }

    [Fact]
    public async Task Legacy_server_closing_on_queue_requests_is_reported_then_the_client_reconnects()
    {
        await using var server = await AnyServer.StartAsync(Backend.PyTorchLegacy);
        await using var client = await server.ConnectAsync();

        var len = await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await client.QueueLengthAsync("q"));
        Assert.Contains("QUEUE_LEN", len.Message, StringComparison.Ordinal);

        // QUEUE_PUSH has no reply: the rejection (a closed connection) shows on the next call, naming the culprit.
        await client.QueuePushAsync("q", "v");
        var next = await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await client.NumKeysAsync());
        Assert.Contains("QUEUE_PUSH", next.Message, StringComparison.Ordinal);

        // And the call after that reconnects.
        await client.SetAsync("k", "v");
        Assert.Equal("v", await client.GetStringAsync("k"));
    }

    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.PyTorchLibUv)]
    public async Task A_non_numeric_add_closes_the_connection_and_the_next_call_reconnects(Backend backend)
    {
        await using var server = await AnyServer.StartAsync(backend);
        await using var client = await server.ConnectAsync();
        await client.SetAsync("text", "abc");
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await client.AddAsync("text", 1));
        Assert.Contains("ADD", ex.Message, StringComparison.Ordinal);
        Assert.Equal("abc", await client.GetStringAsync("text"));
        Assert.Equal(1, await client.AddAsync("n", 1));
    }

    [Fact]
    public async Task Disposing_the_client_ends_a_wait_in_progress()
    {
        await using var server = await AnyServer.StartAsync(Backend.Ours);
        var client = await server.ConnectAsync();
        var waiting = client.WaitAsync(["never"], TimeSpan.FromSeconds(30)).AsTask();
        await Task.Delay(200);
        client.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await client.SetAsync("k", "v"));
    }
}
