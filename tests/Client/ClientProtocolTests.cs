using TcpStore.Client;

namespace TcpStore.Tests.Client;

/// <summary>The client's wait/cancel algorithm and handshake against scripted replies, including the races.</summary>
public sealed class ClientProtocolTests
{
    private const byte Check = 5;
    private const byte Wait = 6;
    private const byte CancelWait = 12;
    private const byte StopWaiting = 0;
    private const byte WaitCanceled = 1;

    private static TcpStoreClientOptions Options(int port, TimeSpan? timeout = null) => new()
    {
        Port = port,
        Timeout = timeout ?? TimeSpan.FromSeconds(10),
        InitialBackoff = TimeSpan.FromMilliseconds(20),
    };

    [Fact]
    public async Task Stop_waiting_crossing_the_cancel_means_the_wait_succeeded()
    {
        var seen = new List<string>();
        await using var server = new ScriptedServer(ScriptedServer.WaitConnection(async peer =>
        {
            await peer.HandshakeAsync();
            var (code, keys) = await peer.ReadMultiKeyAsync();
            Assert.Equal(Wait, code);
            seen.AddRange(keys);
            Assert.Equal(CancelWait, (await peer.ReadAsync(1))[0]);
            await peer.SendAsync(StopWaiting, WaitCanceled);
            await peer.HoldAsync();
        }));
        await using var client = await TcpStoreClient.ConnectAsync(Options(server.Port));
        await client.WaitAsync(["k"], TimeSpan.FromMilliseconds(100));
        Assert.Equal(["/k"], seen);
    }

    [Fact]
    public async Task Wait_canceled_means_a_timeout_that_names_the_keys_a_check_finds_missing()
    {
        await using var server = new ScriptedServer(async (peer, index) =>
        {
            await peer.HandshakeAsync(ping: false);
            if (index == 0)
            {
                await peer.HoldAsync();
                return;
            }

            Assert.Equal(Wait, (await peer.ReadMultiKeyAsync()).Code);
            Assert.Equal(CancelWait, (await peer.ReadAsync(1))[0]);
            await peer.SendAsync(WaitCanceled);
            var present = await peer.ReadMultiKeyAsync();
            var missing = await peer.ReadMultiKeyAsync();
            Assert.Equal([Check, Check], new[] { present.Code, missing.Code });
            Assert.Equal(["/a", "/b"], present.Keys.Concat(missing.Keys));
            await peer.SendAsync(0, 1);
            await peer.HoldAsync();
        });
        var options = Options(server.Port);
        options.UsePing = false;
        using var client = TcpStoreClient.Connect(options);
        var ex = Assert.Throws<TcpStoreTimeoutException>(() => client.Wait(["a", "b"], TimeSpan.FromMilliseconds(100)));
        Assert.Equal(["b"], ex.MissingKeys);
        Assert.Equal(TimeSpan.FromMilliseconds(100), ex.Timeout);
    }

    [Fact]
    public async Task An_unexpected_reply_byte_is_a_protocol_error_and_the_connection_is_replaced()
    {
        await using var server = new ScriptedServer(async (peer, _) =>
        {
            await peer.HandshakeAsync();
            Assert.Equal(Check, (await peer.ReadMultiKeyAsync()).Code);
            await peer.SendAsync(7);
            await peer.HoldAsync();
        });
        await using var client = await TcpStoreClient.ConnectAsync(Options(server.Port));
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await client.CheckAsync(["x"]));
        Assert.Contains("protocol error", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await client.CheckAsync(["x"]));
        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task A_wrong_ping_echo_is_retried_until_the_deadline_and_reported()
    {
        await using var server = new ScriptedServer(async (peer, _) => await peer.HandshakeAsync(echo: 12345));
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(
            async () => await TcpStoreClient.ConnectAsync(Options(server.Port, TimeSpan.FromMilliseconds(500))));
        Assert.Contains("PING echo 12345", ex.Message, StringComparison.Ordinal);
        Assert.True(server.Accepted >= 2, $"only {server.Accepted} attempts");
    }

    [Fact]
    public async Task A_server_that_closes_on_ping_needs_UsePing_false()
    {
        // PyTorch 2.2-2.4 servers know VALIDATE but close the connection on PING.
        await using var server = new ScriptedServer(async (peer, _) =>
        {
            await peer.HandshakeAsync(ping: false);
            var next = await peer.ReadAsync(1);
            if (next[0] == Check)
            {
                await peer.ReadAsync(8);
                await peer.SendAsync(0);
                await peer.HoldAsync();
            }
        });
        await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await TcpStoreClient.ConnectAsync(Options(server.Port, TimeSpan.FromMilliseconds(300))));

        var options = Options(server.Port);
        options.UsePing = false;
        await using var client = await TcpStoreClient.ConnectAsync(options);
        Assert.True(await client.CheckAsync(Array.Empty<byte[]>()));
    }
}
